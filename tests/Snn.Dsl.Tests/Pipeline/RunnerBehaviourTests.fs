/// The runner's behaviour around a run: refusals before any compute, reruns of changed steps, defaults
/// it chooses and logs. RunnerTests holds the complete runs and their resumption.
module Snn.Dsl.Tests.Pipeline.RunnerBehaviourTests

open System
open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

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
