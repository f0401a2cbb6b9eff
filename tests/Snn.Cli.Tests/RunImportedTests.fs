/// `snn run --config` with an experiment whose network is an ONNX model (issue 14): the model is
/// built here in ONNX's exact protobuf format (no PyTorch needed), the data is a tiny IDX set.
module Snn.Cli.Tests.RunImportedTests

open System.IO
open Expecto
open Snn.Cli
open Snn.Cli.Tests.Common
open Snn.Dsl.Tests.Import.OnnxModels

/// Conv 1->4 (pad 1) -> BatchNormalization -> Relu -> AveragePool 2 -> Conv 4->4 (pad 1) -> Relu
/// -> AveragePool 2 -> Flatten -> Gemm to 10 classes, random weights; `last` (e.g. Softmax)
/// appended after the Gemm as a node named "/head/{last}" when given.
let private fashionModel (last: string option) =
    let b = OnnxBuilder([ None; Some 1L; Some 28L; Some 28L ], 5)
    let pads = "pads", Is [ 1L; 1L; 1L; 1L ]
    let pool = [ "kernel_shape", Is [ 2L; 2L ]; "strides", Is [ 2L; 2L ] ]

    let c1 =
        b.Node("Conv", [ b.InputName; b.Random [ 4L; 1L; 3L; 3L ]; b.Random [ 4L ] ], [ pads ])

    let bn =
        b.Node(
            "BatchNormalization",
            [ c1
              b.Random([ 4L ], 0.5, 1.5)
              b.Random [ 4L ]
              b.Random([ 4L ], -0.2, 0.2)
              b.Random([ 4L ], 0.5, 2.0) ]
        )

    let p1 = b.Node("AveragePool", [ b.Node("Relu", [ bn ]) ], pool)

    let c2 =
        b.Node("Conv", [ p1; b.Random [ 4L; 4L; 3L; 3L ]; b.Random [ 4L ] ], [ pads ])

    let p2 = b.Node("AveragePool", [ b.Node("Relu", [ c2 ]) ], pool)
    let f = b.Node("Flatten", [ p2 ], [ "axis", I 1L ])

    let logits =
        b.Node("Gemm", [ f; b.Random([ 10L; 196L ], -0.1, 0.1); b.Random [ 10L ] ], [ "transB", I 1L ])

    match last with
    | Some op -> b.Bytes(b.Node(op, [ logits ], name = $"/head/{op}"))
    | None -> b.Bytes logits

/// A short imported dual-phase pipeline at T = 1, 2 on 256 training images (JSON, as in docs/IMPORT.md).
let private pipeline =
    let phaseTwo =
        """{"step": "calibratePotential", "calibration_images": 128, "batch_size": 64},
           {"step": "calibrateWeights", "learning_rate": 0.0001, "epochs": 1, "batch_size": 64,
            "initial_alpha": 2.5, "calibration_images": 128, "early_stopping_images": 64, "patience": 3},
           {"step": "calibratePotential", "calibration_images": 128, "batch_size": 64}"""

    $"""[ {{"step": "importAnn", "reference_images": 64}},
          {{"step": "clipFromRelu", "percentile": 99.9, "images": 128}},
          {{"step": "fineTuneClip", "epochs": 1}},
          {{"step": "foldBatchNorm", "network": "clip"}},
          {{"step": "fineTuneQC", "time_steps": [1, 2], "epochs": 1}},
          {{"step": "convert"}},
          {{"step": "evaluate", "time_steps": [1, 2], "anatomy": true}},
          {{"step": "phaseTwo", "steps": [ {phaseTwo} ]}},
          {{"step": "evaluate", "time_steps": [1, 2], "anatomy": true}},
          {{"step": "report", "plots": false}} ]"""

/// The experiment JSON over `model` (relative to the working folder) and the IDX set in `data`.
let private experimentJson (model: string) (data: string) (pipelineJson: string) =
    $"""{{ "name": "imported-cli",
          "data": {{ "dataset": "fashion-mnist", "path": "{data}", "train_images": 256,
                     "test_images": 100, "held_out": 256 }},
          "network": {{ "onnx": "{model}" }},
          "seed": 0,
          "output_folder": "out",
          "pipeline": {pipelineJson} }}"""

/// A temp folder holding data/ (600 training, 100 test IDX images), model.onnx and experiment.json.
let private setUp (tmp: TempFolder) (model: byte[]) (pipelineJson: string) =
    let data = tmp.File "data"
    Directory.CreateDirectory data |> ignore
    writeIdx data false 600 100
    File.WriteAllBytes(tmp.File "model.onnx", model)
    File.WriteAllText(tmp.File "experiment.json", experimentJson "model.onnx" data pipelineJson)

[<Tests>]
let tests =
    testList
        "snn run: imported ONNX model"
        [ testList
              "slow"
              [ testCase
                    "runs end to end (import, clip thresholds, clip fine-tune, QC fine-tune, convert, Phase II, evaluate, report) beside the imported ANN"
                <| fun () ->
                    use tmp = new TempFolder()
                    setUp tmp (fashionModel None) pipeline

                    let r = runSnnWith [] tmp.Path [ "run"; "--config"; "experiment.json"; "--plain" ]

                    Expect.equal r.ExitCode ExitCode.Success r.Show
                    let out = tmp.File "out"

                    for file in [ "results.json"; "report.md" ] do
                        Expect.isTrue (File.Exists(Path.Combine(out, file))) $"{file} written\n{r.Show}"

                    let report = File.ReadAllText(Path.Combine(out, "report.md"))
                    Expect.stringContains report "model.onnx" "the report names the model"

                    let results = File.ReadAllText(Path.Combine(out, "results.json"))

                    for key in [ "\"imported\""; "\"sha256\""; "\"dual_phase\"" ] do
                        Expect.stringContains results key $"results.json has {key}"

                    Expect.stringContains r.Stdout "network: imported from model.onnx" "the log names the model" ]

          testCase "a model with an unsupported node is refused before any compute, naming the file and the node"
          <| fun () ->
              use tmp = new TempFolder()
              setUp tmp (fashionModel (Some "Softmax")) pipeline

              let r = runSnnWith [] tmp.Path [ "run"; "--config"; "experiment.json"; "--plain" ]

              Expect.equal r.ExitCode ExitCode.Usage $"an invalid experiment\n{r.Show}"
              Expect.isFalse (hasStackTrace r.Stderr) $"no stack trace\n{r.Show}"

              let lines =
                  r.Stderr.Replace("\r\n", "\n").Split('\n')
                  |> Array.filter (fun l -> l.Trim() <> "")

              Expect.isNonEmpty lines "a message"

              for l in lines do
                  Expect.stringStarts l "snn: " $"every line is an snn: message\n{r.Show}"

              Expect.isTrue
                  (lines
                   |> Array.exists (fun l ->
                       l.Contains "model.onnx"
                       && l.Contains "'/head/Softmax'"
                       && l.Contains "(Softmax)"))
                  $"one line names the file, the node and its op\n{r.Show}"

              Expect.isFalse (Directory.Exists(tmp.File "out")) "no run folder written"

          testCase "a setting out of range in an imported pipeline is refused before the model is run"
          <| fun () ->
              use tmp = new TempFolder()

              setUp tmp (fashionModel None) (pipeline.Replace("\"percentile\": 99.9", "\"percentile\": 140"))

              let r = runSnnWith [] tmp.Path [ "run"; "--config"; "experiment.json"; "--plain" ]

              Expect.equal r.ExitCode ExitCode.Usage $"an invalid experiment\n{r.Show}"
              Expect.stringContains r.Stderr "percentile" $"names the setting\n{r.Show}"
              Expect.isFalse (Directory.Exists(tmp.File "out")) "no run folder written" ]
