module Snn.Dsl.Tests.PhasesTests

open Expecto
open Snn.Dsl

let private errorsOf pipeline =
    match Phases.validate pipeline with
    | Ok _ -> failtest $"expected errors for %A{pipeline}"
    | Error es -> es

[<Tests>]
let tests =
    testList
        "Phases"
        [ test "the phase helpers carry PAPER.md's and BENCHMARKS.md's defaults" {
              Expect.equal
                  (Phases.trainClip 30)
                  (TrainClip
                      { Epochs = 30
                        Optimizer =
                          { LearningRate = 0.05
                            Momentum = 0.9
                            WeightDecay = 5e-4
                            Schedule = Cosine
                            BatchSize = 128 }
                        InitialThreshold = 5.0 })
                  "trainClip"

              match Phases.fineTuneQC [ 1; 2; 4 ] 10 with
              | FineTuneQC f ->
                  Expect.equal
                      (f.Optimizer.LearningRate, f.Optimizer.Momentum, f.Optimizer.WeightDecay)
                      (1e-3, 0.9, 0.0)
                      "SGD"

                  Expect.equal
                      (f.NoiseProbability, f.TimeSteps, f.Optimizer.Schedule)
                      (0.1, [ 1; 2; 4 ], Cosine)
                      "p, T, cosine"
              | other -> failtest $"%A{other}"

              match Phases.calibrateWeights with
              | CalibrateWeights c ->
                  Expect.equal
                      (c.LearningRate, c.InitialAlpha, c.CalibrationImages, c.EarlyStoppingImages)
                      (1e-4, 2.5, 1024, 256)
                      "Phase II"
              | other -> failtest $"%A{other}"

              Expect.equal Phases.calibratePotential (CalibratePotential { CalibrationImages = 1024 }) "potential"

              match Phases.qcfs 10 with
              | Qcfs q ->
                  Expect.equal (q.Levels, q.InitialThreshold, q.TimeSteps) (4, 8.0, [ 1; 2; 4; 8; 16; 32 ]) "QCFS"
              | other -> failtest $"%A{other}"
          }

          test "the dual-phase pipeline is valid and names its phases as PAPER.md does" {
              let pipeline = Phases.dualPhase 10 3 [ 1; 2; 4 ]
              Expect.isOk (Phases.validate pipeline) "valid"

              Expect.equal
                  (pipeline |> List.map _.Name)
                  [ "trainRelu"
                    "trainClip"
                    "foldBatchNorm"
                    "fineTuneQC"
                    "calibratePotential"
                    "calibrateWeights"
                    "calibratePotential"
                    "evaluate"
                    "qcfs" ]
                  "names"
          }

          test "one pipeline with nine problems reports all of them, in phase order" {
              let badClip =
                  match Phases.trainClip -1 with
                  | TrainClip t ->
                      TrainClip
                          { t with
                              Optimizer = { t.Optimizer with LearningRate = 0.0 } }
                  | p -> p

              let badFineTune =
                  match Phases.fineTuneQC [ 0; 8 ] 1 with
                  | FineTuneQC f -> FineTuneQC { f with NoiseProbability = 1.0 }
                  | p -> p

              let badQcfs =
                  match Phases.qcfs 2 with
                  | Qcfs q -> Qcfs { q with Levels = 0 }
                  | p -> p

              let errors =
                  errorsOf
                      [ Phases.foldBatchNorm
                        badClip
                        badFineTune
                        CalibratePotential { CalibrationImages = 0 }
                        Phases.evaluate [ 1; 2; 1 ]
                        badQcfs ]

              Expect.equal
                  (errors |> List.map _.Message)
                  [ "phase 0 (foldBatchNorm): needs an earlier trainClip phase"
                    "phase 1 (trainClip): epochs = -1 is out of range: expected >= 0"
                    "phase 1 (trainClip): learning rate = 0 is out of range: expected > 0"
                    "phase 2 (fineTuneQC): time step T = 0 is out of range: expected >= 1"
                    "phase 2 (fineTuneQC): noise probability p = 1 is out of range: expected [0, 1)"
                    "phase 2 (fineTuneQC): fine-tune targets T = 0, 8 are not evaluated: add them to an evaluate phase"
                    "phase 3 (calibratePotential): calibration images = 0 is out of range: expected >= 1"
                    "phase 4 (evaluate): time steps [1; 2; 1] contain duplicates"
                    "phase 5 (qcfs): levels L = 0 is out of range: expected >= 1" ]
                  "all nine"
          }

          test "fine-tune targets must be evaluated; calibration needs an earlier fine-tune" {
              let messages p = errorsOf p |> List.map _.Message

              Expect.equal
                  (messages
                      [ Phases.trainClip 1
                        Phases.foldBatchNorm
                        Phases.fineTuneQC [ 1; 2; 4 ] 1
                        Phases.evaluate [ 1; 2 ] ])
                  [ "phase 2 (fineTuneQC): fine-tune targets T = 4 are not evaluated: add them to an evaluate phase" ]
                  "T = 4 missing"

              Expect.equal
                  (messages [ Phases.calibrateWeights; Phases.evaluate [ 1 ] ])
                  [ "phase 0 (calibrateWeights): needs an earlier fineTuneQC phase" ]
                  "order"

              Expect.equal (messages []) [ "pipeline: the pipeline has no phases" ] "empty"
          }

          test
              "the three profiles are valid: quick E = 2 and F = 1 on 10,000 images, bench E = 10 and F = 3, paper E = 30 and F = 10" {
              let epochs (e: Experiment) =
                  e.Pipeline
                  |> List.choose (function
                      | TrainClip t -> Some("E", t.Epochs)
                      | FineTuneQC f -> Some("F", f.Epochs)
                      | _ -> None)

              for e in Profiles.all do
                  Expect.isOk (Experiment.validate e) $"%A{e.Profile} is valid"

              Expect.equal (epochs Profiles.quick) [ "E", 2; "F", 1 ] "quick"
              Expect.equal Profiles.quick.Data.TrainImages (Some 10000) "quick subset"
              Expect.equal (epochs Profiles.bench) [ "E", 10; "F", 3 ] "bench"
              Expect.equal (epochs Profiles.paper) [ "E", 30; "F", 10 ] "paper"
          } ]
