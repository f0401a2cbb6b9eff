module Snn.Dsl.Tests.StepsTests

open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps

let private parameters<'P> (s: IStep) =
    match s with
    | :? Step<'P> as x -> x.Parameters
    | other -> failtestf "%s is not a %s step" other.Name typeof<'P>.FullName

[<Tests>]
let tests =
    testList
        "Steps"
        [ test "the step helpers carry PAPER.md's and BENCHMARKS.md's defaults" {
              Expect.equal
                  (parameters<TrainClip.Parameters> (trainClip 30))
                  { Epochs = 30
                    Optimizer =
                      { LearningRate = 0.05
                        Momentum = 0.9
                        WeightDecay = 5e-4
                        Schedule = Cosine
                        BatchSize = 128 }
                    InitialThreshold = 5.0 }
                  "trainClip"

              let f = parameters<FineTuneQC.Parameters> (fineTuneQC [ 1; 2; 4 ] 10)

              Expect.equal
                  (f.Optimizer.LearningRate, f.Optimizer.Momentum, f.Optimizer.WeightDecay, f.Optimizer.Schedule)
                  (1e-3, 0.9, 0.0, Cosine)
                  "SGD"

              Expect.equal (f.NoiseProbability, f.TimeSteps, f.FitThresholds) (0.1, [ 1; 2; 4 ], true) "p, T, fit"

              match calibrateWeights with
              | :? LayerStep<CalibrateWeights.Parameters> as c ->
                  let c = c.Parameters

                  Expect.equal
                      (c.LearningRate, c.InitialAlpha, c.CalibrationImages, c.EarlyStoppingImages)
                      (1e-4, 2.5, 1024, 256)
                      "Phase II b"
              | other -> failtestf "%A" other

              match calibratePotential with
              | :? LayerStep<CalibratePotential.Parameters> as c ->
                  Expect.equal c.Parameters.CalibrationImages 1024 "Phase II a"
              | other -> failtestf "%A" other

              let q = parameters<Qcfs.Parameters> (qcfs 10)
              Expect.equal (q.Levels, q.InitialThreshold, q.TimeSteps) (4, 8.0, [ 1; 2; 4; 8; 16; 32 ]) "QCFS"
          }

          test "the dual-phase pipeline names its steps as PAPER.md does, in the order they run" {
              Expect.equal
                  (dualPhase 10 3 [ 1; 2; 4 ] |> List.map _.Name)
                  [ "trainRelu"
                    "trainClip"
                    "foldBatchNorm"
                    "evaluate"
                    "fineTuneQC"
                    "convert"
                    "evaluate"
                    "ablation"
                    "phaseTwo"
                    "evaluate"
                    "qcfs"
                    "report" ]
                  "names"
          }

          test "steps are equal exactly when their JSON is" {
              Expect.equal (trainClip 3) (trainClip 3) "same settings"
              Expect.notEqual (trainClip 3) (trainClip 4) "other epochs"
              Expect.notEqual (evaluate [ 1 ]) (evaluateDirect [ 1 ]) "other target"
          }

          test
              "the profiles are valid: quick E = 2 and F = 1 on 10,000 images, bench E = 10 and F = 3, paper E = 30 and F = 10" {
              let epochs (e: Experiment) =
                  e.Pipeline
                  |> List.choose (fun s ->
                      match s with
                      | :? Step<TrainClip.Parameters> as t -> Some("E", t.Parameters.Epochs)
                      | :? Step<FineTuneQC.Parameters> as f -> Some("F", f.Parameters.Epochs)
                      | :? Step<DistillQC.Parameters> as d -> Some("D", d.Parameters.Epochs)
                      | _ -> None)

              for _, e in Profiles.named do
                  Expect.isOk (Experiment.validate e) $"%A{e.Profile} is valid"

              Expect.equal (epochs Profiles.quick) [ "E", 2; "F", 1 ] "quick"
              Expect.equal Profiles.quick.Data.TrainImages (Some 10000) "quick subset"
              Expect.equal (epochs Profiles.bench) [ "E", 10; "F", 3 ] "bench"
              Expect.equal (epochs Profiles.paper) [ "E", 30; "F", 10 ] "paper"
              Expect.equal (epochs Profiles.quickDistill) [ "E", 2; "D", 1 ] "quick-distill: F = 1, distilled"
              Expect.equal (epochs Profiles.benchDistill) [ "E", 10; "F", 2; "D", 1 ] "bench-distill: F = 2 + 1"
          }
          test "importedDualPhase: the imported ANN and the clip ANN from its statistics instead of training, no QCFS" {
              let names steps =
                  steps |> List.map (fun (s: IStep) -> s.Name)

              Expect.equal
                  (names (importedDualPhase 2 3 [ 1; 2; 4 ]))
                  [ "importAnn"
                    "clipFromRelu"
                    "fineTuneClip"
                    "foldBatchNorm"
                    "evaluate"
                    "fineTuneQC"
                    "convert"
                    "evaluate"
                    "ablation"
                    "phaseTwo"
                    "evaluate"
                    "report" ]
                  "with a clip fine-tune"

              Expect.isFalse (names (importedDualPhase 0 3 [ 1 ]) |> List.contains "fineTuneClip") "without"
              let pipeline = importedDualPhase 2 3 [ 1; 2 ]
              Expect.contains pipeline (fineTuneClip 2) "clip epochs"
              Expect.contains pipeline (fineTuneQC [ 1; 2 ] 3) "F and the targets"
              Expect.contains pipeline (clipFromRelu 99.9) "the 99.9th percentile"
              Expect.isFalse (names pipeline |> List.contains "qcfs") "no QCFS baseline"
          }

          test "dualPhaseDistilled: the fine-tuned QC ANNs converted and evaluated, distilled, then as dualPhase" {
              Expect.equal
                  (dualPhaseDistilled 10 2 1 [ 1; 2; 4 ])
                  (dualPhase 10 3 [ 1; 2; 4 ]
                   |> List.collect (fun s ->
                       if s = fineTuneQC [ 1; 2; 4 ] 3 then
                           [ fineTuneQC [ 1; 2; 4 ] 2
                             convert
                             evaluate [ 1; 2; 4 ]
                             distillQC [ 1; 2; 4 ] 1 ]
                       else
                           [ s ]))
                  "F = 2 + 1"

              Expect.equal (distilledQC 0 3 [ 1 ]) [ distillQC [ 1 ] 3 ] "distillQC alone when F = 0 + D"

              Expect.isEmpty
                  (Plan.problems Presets.fmnistVgg None (dualPhaseDistilled 1 0 1 [ 1; 2 ]))
                  "valid alone too"
          } ]
