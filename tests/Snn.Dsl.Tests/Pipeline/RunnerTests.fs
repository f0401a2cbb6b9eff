module Snn.Dsl.Tests.Pipeline.RunnerTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

/// A small but complete experiment: every step of the dual-phase pipeline and QCFS, on 1,024
/// Fashion-MNIST training images and 256 test images with a two-conv network. T = 4 has no network
/// fine-tuned for it: the Phase-I network at L = 2 is read out of a longer run there, without Phase II.
let private tinyExperiment folder =
    let potential, weights = Profiles.smallPhaseTwo 256 256 128

    { Profiles.tiny with
        Name = "resume-test"
        Network = CustomNetwork smallSpecBn
        Data =
            { Profiles.tiny.Data with
                TrainImages = Some 1024
                TestImages = Some 256 }
        Pipeline =
            [ trainRelu 1
              trainClip 3
              foldBatchNorm
              evaluateDirect [ 1; 2; 4 ]
              fineTuneQC [ 1; 2 ] 1
              convert
              evaluate [ 1; 2; 4 ]
              ablation [ potential; weights ]
              phaseTwo [ potential; weights; potential ]
              evaluate [ 1; 2 ]
              Step.create
                  Qcfs.definition
                  { Qcfs.defaults with
                      Epochs = 1
                      TimeSteps = [ 1; 2; 4 ] }
              report ]
        OutputFolder = folder }

/// The `snn` CLI built beside the test project (the README's set-up builds the solution).
let private snnDll () =
    let root =
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."))

    [ "Release"; "Debug" ]
    |> List.map (fun c -> Path.Combine(root, "Snn.Cli", "bin", c, "net10.0", "snn.dll"))
    |> List.tryFind File.Exists
    |> Option.defaultWith (fun () -> failtestf "snn.dll not found under %s/Snn.Cli/bin: build the solution first" root)

/// The numbers of a run that must not depend on interruptions (wall times and commit excluded).
/// Compared as JSON text: figures a run does not produce are NaN, and NaN <> NaN.
let private numbers (r: RunResults) =
    Text.Json.JsonSerializer.Serialize(
        (r.Ann, r.ClipAnn, r.Qcfs, r.DualPhase |> Array.map (fun d -> { d with CalibrationSeconds = 0.0 })),
        jsonOptions
    )

// Sequenced: the run draws initial weights from torch's process-wide generator, which tests
// running in parallel would otherwise draw from too.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "slow"
        [ testList
              "Runner"
              [ testCase
                    "a killed run resumes without redoing finished epochs and ends with the same numbers as an uninterrupted run"
                <| fun () ->
                    let whole = tempFolder "whole"
                    let killed = tempFolder "killed"

                    let uninterrupted =
                        Runner.run
                            { OutputFolder = None
                              DataPath = None
                              Progress = SilentProgress() }
                            (tinyExperiment whole)

                    // Run the same experiment in another process and kill it (SIGKILL) three times: in the
                    // middle of training, in the middle of the fine-tune step (L = 1 done, L = 2 started),
                    // and in Phase II; each run resumes what the one before left.
                    let config = Path.Combine(killed, "experiment-input.json")
                    Experiment.save config (tinyExperiment killed)

                    let runUntil (prefix: string) =
                        let psi =
                            ProcessStartInfo(
                                "dotnet",
                                $"\"{snnDll ()}\" run --config \"{config}\" --plain",
                                RedirectStandardOutput = true,
                                UseShellExecute = false
                            )

                        use child = Process.Start psi
                        let lines = Collections.Generic.List<string>()
                        let mutable line = child.StandardOutput.ReadLine()

                        while not (isNull line) && not (line.StartsWith prefix) do
                            lines.Add line
                            line <- child.StandardOutput.ReadLine()

                        Expect.isNotNull line $"the child run reached '{prefix}'"
                        child.Kill true
                        child.WaitForExit()
                        List.ofSeq lines

                    runUntil "clip: epoch 2/3" |> ignore

                    let checkpoint =
                        Directory.GetFiles(Path.Combine(killed, "checkpoints"), "clip-*.ckpt")
                        |> Array.exactlyOne

                    let meta = Snn.Core.Checkpoints.Checkpoint.ReadMetadata checkpoint
                    // The kill lands after the line of epoch 2 was read, so the checkpoint holds two epochs; on
                    // a loaded machine the child may have saved the third before the kill arrived. Either way
                    // the resumed run must redo none of the saved epochs, and only the saved count says which.
                    let saved =
                        Text.Json.JsonDocument.Parse(meta).RootElement.GetProperty("EpochsDone").GetInt32()

                    Expect.isTrue (saved = 2 || saved = 3) $"the checkpoint holds 2 or 3 finished clip epochs ({saved})"
                    Expect.isFalse (File.Exists(Path.Combine(killed, "results.json"))) "the killed run did not finish"

                    let second = runUntil "finetune-L2: act1"

                    if saved < 3 then
                        Expect.isTrue
                            (second
                             |> List.exists (fun l -> l.StartsWith $"clip: resuming after epoch {saved} of 3"))
                            $"says it resumes after epoch {saved}"

                    Expect.isFalse
                        (second
                         |> List.exists (fun l ->
                             [ 1..saved ] |> List.exists (fun e -> l.StartsWith $"clip: epoch {e}/3")))
                        "finished clip epochs are not trained again"

                    Expect.equal
                        (second |> List.exists (fun l -> l.StartsWith "clip: epoch 3/3"))
                        (saved < 3)
                        "the last epoch is trained when it was not saved"

                    Expect.isFalse
                        (second |> List.exists (fun l -> l.StartsWith "relu: epoch"))
                        "the finished ReLU step is not trained again"

                    let third = runUntil "T=1 "

                    Expect.isTrue
                        (third
                         |> List.exists (fun l ->
                             l.Contains "the QC ANN at L = 1 was made earlier with the same settings: reusing it"))
                        "the finished L = 1 fine-tune of the interrupted step is reused"

                    Expect.isFalse
                        (third |> List.exists (fun l -> l.StartsWith "finetune-L1: epoch"))
                        "and not trained again"

                    let recorder = Recorder()

                    let resumed =
                        Runner.run
                            { OutputFolder = None
                              DataPath = None
                              Progress = recorder }
                            (tinyExperiment killed)

                    let w = resumed.WallSeconds

                    Expect.isGreaterThanOrEqual
                        w.Total
                        (w.Ann + w.Phase1 + w.Phase2 + w.Qcfs)
                        "wall times add up over the resumed runs (epochs trained before each kill included)"

                    Expect.equal (numbers resumed) (numbers uninterrupted) "same numbers as the uninterrupted run"

                    // Phase II where Phase I fine-tuned (T = 1, 2); at T = 4 the L = 2 network, converted.
                    let byT = resumed.DualPhase |> Array.map (fun d -> d.T, d) |> Map.ofArray
                    Expect.sequenceEqual (Map.keys byT) [ 1; 2; 4 ] "every evaluated T is reported"

                    for t in [ 1; 2 ] do
                        Expect.equal byT[t].FineTunedL t $"T = {t} uses the network fine-tuned at L = T"
                        Expect.isFalse (Double.IsNaN byT[t].Snn.Final) $"Phase II ran at T = {t}"

                    Expect.equal byT[4].FineTunedL 2 "T = 4 uses the largest L below it"

                    Expect.isTrue
                        (Double.IsNaN byT[4].Snn.Final && Double.IsNaN byT[4].Snn.Weights)
                        "no Phase II at T = 4"

                    Expect.isFalse
                        (Double.IsNaN byT[4].Snn.Phase1 || Double.IsNaN byT[4].Snn.Direct)
                        "T = 4 is evaluated"

                    Expect.isNonEmpty byT[4].Layers "the error anatomy at T = 4 is recorded"
                    Expect.sequenceEqual (resumed.Qcfs.Snn |> Array.map _.T) [ 1; 2; 4 ] "QCFS at every T"

                    // A third run finds everything recorded and trains nothing.
                    let again = Recorder()

                    Runner.run
                        { OutputFolder = None
                          DataPath = None
                          Progress = again }
                        (tinyExperiment killed)
                    |> ignore

                    Expect.isEmpty (again.Lines |> List.filter (fun l -> l.StartsWith "start ")) "nothing is redone"
                    Directory.Delete(whole, true)
                    Directory.Delete(killed, true)

                testCase
                    "an imported model (BN + ReLU) runs the dual-phase pipeline end to end, reported beside the imported ANN"
                <| fun () ->
                    let folder = tempFolder "imported"
                    let file = ImportedPipelines.fashionFile 20 None
                    let potential, weights = Profiles.smallPhaseTwo 256 256 128

                    let steps =
                        [ importAnn
                          Step.create ClipFromRelu.definition { Percentile = 99.9; Images = 256 }
                          fineTuneClip 1
                          foldBatchNorm
                          evaluateDirect [ 1; 2; 4 ]
                          fineTuneQC [ 1; 2 ] 1
                          convert
                          evaluate [ 1; 2; 4 ]
                          phaseTwo [ potential; weights; potential ]
                          evaluate [ 1; 2 ]
                          report ]

                    let e = ImportedPipelines.experiment folder file steps
                    let r = (run (Recorder()) e).Results
                    Expect.equal (r.Imported |> Array.map _.OnnxFile) [| file |] "the imported ANN"
                    let byT = r.DualPhase |> Array.map (fun d -> d.T, d) |> Map.ofArray
                    Expect.sequenceEqual (Map.keys byT) [ 1; 2; 4 ] "every T"

                    for t in [ 1; 2 ] do
                        let s = byT[t].Snn

                        for x in [ s.Direct; s.Phase1; s.Final ] do
                            Expect.isFalse (Double.IsNaN x) $"T = {t}: every stage evaluated"

                        Expect.equal
                            (byT[t].Layers |> Array.map _.Stage |> Array.distinct)
                            [| "phase1"; "final" |]
                            $"T = {t}: the error anatomy before and after Phase II"

                    let report = File.ReadAllText(Path.Combine(folder, "report.md"))

                    let ann =
                        r.Ann.TestAccuracy.ToString("F2", Globalization.CultureInfo.InvariantCulture)

                    for t in [ 1; 2; 4 ] do
                        Expect.stringContains
                            report
                            $"| {t} | {ann} |"
                            $"T = {t}: the imported ANN's accuracy beside the SNN's"

                    // A rerun skips every step.
                    let again = Recorder()
                    run again e |> ignore

                    Expect.equal (again.Lines |> List.filter (fun l -> l.Contains ": will run: ")) [] "nothing reruns"

                    Directory.Delete(folder, true)
                    File.Delete file ] ]

let private expectInvalid (e: Experiment) (expected: string list) =
    try
        run (Recorder()) e |> ignore
        failtest "expected the experiment to be refused"
    with :? Runner.ExperimentInvalidException as x ->
        Expect.equal x.Problems expected "every problem"

[<Tests>]
let behaviour =
    testSequenced
    <| testList
        "Runner"
        [ test "an impossible order is refused before any data is read or any folder written, with every problem" {
              let folder = Path.Combine(Path.GetTempPath(), $"snn-never-{Guid.NewGuid():N}")

              expectInvalid
                  (experiment folder smallSpec [ fineTuneQC [ 1 ] 1; trainClip -1; convert; report ])
                  [ "step 0 (fineTuneQC): needs the clip ANN, which no earlier step makes"
                    "step 1 (trainClip): epochs = -1 is out of range: expected [0, 100000]"
                    "step 2 (convert): needs a QC ANN to convert: add fineTuneQC before convert" ]

              Expect.isFalse (Directory.Exists folder) "nothing was written"
          }

          test "a shard of an experiment with seeds is refused before anything is written, naming both" {
              let folder = Path.Combine(Path.GetTempPath(), $"snn-never-{Guid.NewGuid():N}")

              let e =
                  experiment folder smallSpec [ trainClip 1; evaluateDirect [ 1 ] ]
                  |> Experiment.withSeeds [ 0; 1 ]

              try
                  Runner.executeShard
                      { OutputFolder = None
                        DataPath = None
                        Progress = Recorder() }
                      (Some { Index = 1; Count = 2 })
                      e
                  |> ignore

                  failtest "expected a refusal"
              with :? Runner.ExperimentInvalidException as x ->
                  Expect.equal
                      x.Problems
                      [ "seeds: shard 1/2 is a slice of one seed's run and cannot run a series over seeds; shard each seed's run (\"seed\": k, no \"seeds\") on its own" ]
                      "the problem"

              Expect.isFalse (Directory.Exists folder) "nothing was written"
          }

          test
              "zero epochs train nothing: the networks keep their seeded initial weights, accuracies are recorded, and the pipeline runs on" {
              let folder = tempFolder "untrained"

              let qc =
                  Step.create
                      FineTuneQC.definition
                      { FineTuneQC.defaults with
                          TimeSteps = [ 1 ]
                          Epochs = 0
                          FitThresholds = false }

              let outcome =
                  run (Recorder()) (experiment folder smallSpec [ trainClip 0; qc; convert; evaluate [ 1 ] ])

              let trained =
                  outcome.Records
                  |> List.choose (function
                      | AnnTrained r -> Some r
                      | _ -> None)

              Expect.equal
                  (trained |> List.map (fun r -> r.Ann, r.History.Length))
                  [ ClipAnn, 0; QcAnn 1, 0 ]
                  "no epoch"

              Expect.all trained (fun r -> r.TestAccuracy >= 0.0 && r.HeldOutAccuracy >= 0.0) "accuracies recorded"

              Expect.exists
                  outcome.Records
                  (function
                  | SnnEvaluated r -> r.T = 1 && r.Images = 256
                  | _ -> false)
                  "the SNN evaluated"

              // AnnTraining.compile's seeding of trainClip's network (stream 2).
              TorchSharp.torch.manual_seed (0L * 7919L + 2L) |> ignore

              use initial =
                  match Compile.compile (Clip TrainClip.defaults.InitialThreshold) smallSpec with
                  | Ok n -> n
                  | Error es -> failtest $"%A{es}"

              use clip = (Run folder).Ann ClipAnn
              let saved = clip.state_dict ()

              for KeyValue(k, v) in initial.state_dict () do
                  Expect.isTrue (v.allclose (saved[k], 0.0, 0.0)) $"{k}: the initial value"

              Directory.Delete(folder, true)
          }

          test "the network is checked against the dataset's images and classes before training" {
              let folder = tempFolder "classes"
              let five = network (Image(1, 28, 28)) [ conv 4; act; avgPool 2; flatten; linear 5 ]

              let color =
                  network (Image(3, 32, 32)) [ conv 4; act; avgPool 2; flatten; linear 10 ]

              expectInvalid
                  (experiment folder five [ trainClip 1 ])
                  [ "network: the output layer has 5 outputs, but fashion-mnist has 10 classes" ]

              expectInvalid
                  (experiment folder color [ trainClip 1 ])
                  [ "network: the input is 3x32x32, but fashion-mnist images are 1x28x28" ]

              Directory.Delete(folder, true)
          }

          test "a rerun skips finished steps; a changed step reruns with its dependents, and the log says why" {
              let folder = tempFolder "changed"
              let first = [ trainClip 1; evaluateDirect [ 1 ]; Step.create note { Label = "x" } ]
              run (Recorder()) (experiment folder smallSpec first) |> ignore

              let second =
                  [ trainClip 1; evaluateDirect [ 1; 2 ]; Step.create note { Label = "x" } ]

              let recorder = Recorder()
              let outcome = run recorder (experiment folder smallSpec second)
              let lines = recorder.Lines

              Expect.contains
                  lines
                  "step 0 (trainClip (1 epochs, theta0 = 5)): finished earlier, skipped"
                  "training skipped"

              Expect.contains
                  lines
                  "step 1 (evaluate the clip ANN converted (T = 1, 2)): will run: its parameters changed (time_steps: [1] -> [1,2])"
                  "the change and its reason"

              Expect.contains lines "step 2 (note x): finished earlier, skipped" "an independent step is not redone"
              Expect.isFalse (lines |> List.exists (fun l -> l.StartsWith "clip: epoch")) "no training"
              Expect.equal (outcome.Results.DualPhase |> Array.map _.T) [| 1; 2 |] "both T evaluated"
              Directory.Delete(folder, true)
          }

          test
              "a model file with other weights (same architecture) reruns the pipeline from importAnn; the log names the model" {
              let folder = tempFolder "model-changed"
              let file = ImportedPipelines.fashionFile 30 None

              let e =
                  ImportedPipelines.experiment
                      folder
                      file
                      [ Step.create ImportAnn.definition { ReferenceImages = 0 }
                        Step.create note { Label = "x" } ]

              let first = Recorder()
              run first e |> ignore

              Expect.isTrue
                  (first.Lines
                   |> List.exists (fun l -> l.StartsWith $"network: imported from {file} (SHA-256 "))
                  "the log names the model"

              let same = Recorder()
              run same e |> ignore

              Expect.contains
                  same.Lines
                  "step 0 (importAnn (ONNX Runtime check on 0 test images)): finished earlier, skipped"
                  "same file: skipped"

              File.WriteAllBytes(file, Snn.Dsl.Tests.Import.ExampleModels.fashionModel 31 None)
              let changed = Recorder()
              run changed e |> ignore

              Expect.contains
                  changed.Lines
                  "step 0 (importAnn (ONNX Runtime check on 0 test images)): will run: not finished yet (or its data, seed or network changed)"
                  "other weights: imported again"

              Expect.contains
                  changed.Lines
                  "step 1 (note x): will run: not finished yet (or its data, seed or network changed)"
                  "and every other step, as with any other network"

              Directory.Delete(folder, true)
              File.Delete file
          }

          test "the held-out split's default scales with the dataset and the log says what was chosen" {
              let folder = tempFolder "heldout"
              let recorder = Recorder()

              let e =
                  { experiment folder smallSpec [ Step.create note { Label = "x" } ] with
                      Data =
                          { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
                            Path = None
                            TrainImages = None
                            TestImages = None
                            HeldOut = None
                            EvalBatchSize = None } }

              run recorder e |> ignore

              Expect.contains
                  recorder.Lines
                  "data: 60,000 training images: 55,000 to train on, the last 5,000 held out for calibration and early stopping (the default, min(5,000, 1/12 of 60,000); set data.held_out to change it); 10,000 test images, SNNs scored on 10,000"
                  "the default and how to change it"

              Directory.Delete(folder, true)
          } ]
