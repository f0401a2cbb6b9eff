module Snn.Dsl.Tests.Pipeline.TrainingTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

let private history (schedule: Schedule) =
    let folder = tempFolder "schedule"

    let clip =
        Step.create
            TrainClip.definition
            { TrainClip.defaults with
                Epochs = 2
                Optimizer =
                    { Sgd.paper with
                        LearningRate = 0.04
                        Schedule = schedule } }

    let outcome = run (Recorder()) (experiment folder smallSpec [ clip ])
    Directory.Delete(folder, true)

    outcome.Records
    |> List.pick (function
        | AnnTrained r -> Some r.History
        | _ -> None)

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Training"
        [ test "the constant schedule keeps the learning rate; the cosine ones lower it (recorded per epoch)" {
              let constant = history Constant |> Array.map _.LearningRate
              let cosine = history Cosine |> Array.map _.LearningRate
              let perEpoch = history CosinePerEpoch |> Array.map _.LearningRate
              Expect.equal constant [| 0.04; 0.04 |] "constant"
              // Epoch 1 of 2 runs at lr0 (1 + cos(pi / 2)) / 2 throughout.
              Expect.equal perEpoch.[0] 0.04 "cosine per epoch starts at lr0"
              Expect.floatClose Accuracy.high perEpoch.[1] 0.02 "cosine per epoch, second epoch"
              Expect.equal cosine[0] 0.04 "cosine starts at lr0"
              // 512 images in batches of 128: epoch 2 starts at step 4 of 8, where cos(pi/2) = 0.
              Expect.floatClose Accuracy.high cosine[1] 0.02 "cosine at the half-way step"
          }

          test "schedules as functions of the step: cosine lr0 (1 + cos(pi s / S)) / 2, constant lr0" {
              let cosine = Sgd.scheduleOf { Sgd.paper with LearningRate = 1.0 } 4 25

              let constant =
                  Sgd.scheduleOf
                      { Sgd.paper with
                          LearningRate = 1.0
                          Schedule = Constant }
                      4
                      25

              Expect.floatClose Accuracy.veryHigh (cosine.RateAt 0L) 1.0 "s = 0"

              Expect.floatClose
                  Accuracy.veryHigh
                  (cosine.RateAt 25L)
                  ((1.0 + cos (System.Math.PI / 4.0)) / 2.0)
                  "s = S/4"

              Expect.floatClose Accuracy.veryHigh (cosine.RateAt 100L) 0.0 "s = S"
              Expect.equal ([ 0L; 50L; 100L ] |> List.map constant.RateAt) [ 1.0; 1.0; 1.0 ] "constant"
          }

          test "cosine per epoch: every step of epoch e runs at lr0 (1 + cos(pi e / E)) / 2" {
              let perEpoch =
                  Sgd.scheduleOf
                      { Sgd.paper with
                          LearningRate = 1.0
                          Schedule = CosinePerEpoch }
                      4
                      25

              let expected e =
                  (1.0 + cos (System.Math.PI * float e / 4.0)) / 2.0

              for s, e in [ 0L, 0; 24L, 0; 25L, 1; 49L, 1; 50L, 2; 99L, 3; 100L, 3 ] do
                  Expect.floatClose Accuracy.veryHigh (perEpoch.RateAt s) (expected e) $"step {s}, epoch {e}"
          } ]
