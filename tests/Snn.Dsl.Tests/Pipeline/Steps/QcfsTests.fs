module Snn.Dsl.Tests.Pipeline.Steps.QcfsTests

open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Pipeline.Training
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines

/// The per-epoch learning rates a qcfs step of `epochs` epochs recorded on a small network.
let private recordedRates epochs =
    let folder = tempFolder "qcfs-schedule"

    let step =
        Step.create
            Qcfs.definition
            { Qcfs.defaults with
                Epochs = epochs
                TimeSteps = [ 1; 2 ] }

    let outcome = run (Recorder()) (experiment folder smallSpec [ step ])
    Directory.Delete(folder, true)

    outcome.Records
    |> List.pick (function
        | QcfsEvaluated r -> Some(r.Ann.History |> Array.map _.LearningRate)
        | _ -> None)

// Sequenced: the run shares torch's process-wide state with the other pipeline tests.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "Qcfs"
        [ test "the baseline trains with the QCFS code's recipe: the paper's SGD, cosine stepped once per epoch" {
              Expect.equal Qcfs.defaults.Optimizer Sgd.qcfs "defaults"
              Expect.equal Sgd.qcfs.Schedule CosinePerEpoch "schedule"
              Expect.equal { Sgd.qcfs with Schedule = Cosine } Sgd.paper "otherwise the paper's settings"
              Expect.equal (decodeStep """{"step": "qcfs", "epochs": 10}""") (Ok(qcfs 10)) "JSON default"
          }

          test "JSON: an optimizer without a schedule gets the QCFS code's; an explicit one is kept" {
              let optimizer (json: string) =
                  match decodeStep json with
                  | Ok(:? Step<Qcfs.Parameters> as s) -> s.Parameters.Optimizer
                  | Ok other -> failtestf "%s is not a qcfs step" other.Name
                  | Error e -> failtestf "%A" e

              let body = """"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-4"""

              Expect.equal
                  (optimizer ("""{"step": "qcfs", "epochs": 2, "optimizer": {""" + body + "}}")).Schedule
                  CosinePerEpoch
                  "default"

              Expect.equal
                  (optimizer (
                      """{"step": "qcfs", "epochs": 2, "optimizer": {"""
                      + body
                      + """, "schedule": "cosine"}}"""
                  ))
                      .Schedule
                  Cosine
                  "explicit"
          }

          test "a run records lr0 (1 + cos(pi e / E)) / 2 for epoch e of E, as CosineAnnealingLR stepped per epoch" {
              let rates = recordedRates 2
              Expect.equal rates.Length 2 "one rate per epoch"
              Expect.floatClose Accuracy.high rates[0] Sgd.qcfs.LearningRate "epoch 1 at lr0"
              Expect.floatClose Accuracy.high rates[1] (Sgd.qcfs.LearningRate / 2.0) "epoch 2 at lr0 / 2"
          } ]
