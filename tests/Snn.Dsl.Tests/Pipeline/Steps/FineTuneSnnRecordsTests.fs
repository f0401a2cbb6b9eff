module Snn.Dsl.Tests.Pipeline.Steps.FineTuneSnnRecordsTests

open Expecto
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Tests.Common

[<Tests>]
let tests =
    testList
        "FineTuneSnnRecords"
        [ test "the record keeps each epoch's training loss, a diverged one as null (JSON has no NaN)" {
              let history =
                  Snn.Core.Calibration.NetworkFineTuneHistory(
                      [| 0.5; nan |],
                      [| 80.0; 81.0; 10.0 |],
                      1,
                      System.TimeSpan.FromSeconds 3.0
                  )

              let record = FineTuneSnnRecords.historyRecord 2 history
              Expect.equal (record["train_loss"].ToJsonString()) "[0.5,null]" "the finite loss, then null"
              Expect.equal (record["held_out_accuracy"].ToJsonString()) "[80,81,10]" "the held-out curve"
              Expect.stringContains (record.ToJsonString()) "\"best_epoch\":1" "the whole record serialises"
          }
          test "the log line writes its figures with a decimal point under a German locale too" {
              let history =
                  Snn.Core.Calibration.NetworkFineTuneHistory(
                      [| 0.5 |],
                      [| 80.0; 81.25 |],
                      1,
                      System.TimeSpan.FromSeconds 3.4
                  )

              inCulture "de-DE" (fun () ->
                  Expect.equal
                      (FineTuneSnnRecords.accuracies history)
                      "held-out accuracy 80.00 -> 81.25% (kept epoch 1, 3 s)"
                      "the curve and the seconds")
          } ]
