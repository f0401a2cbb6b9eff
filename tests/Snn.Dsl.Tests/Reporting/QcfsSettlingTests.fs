module Snn.Dsl.Tests.Reporting.QcfsSettlingTests

open System.Text.Json
open Expecto
open Snn.Dsl.Reporting
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Tests.Reporting.StatisticsFixture

/// The fixture's results with this experiment JSON and these learned QCFS thresholds.
let private run (experiment: string) (thetas: float list) =
    let r = results ()

    { r with
        Experiment = JsonDocument.Parse(experiment).RootElement.Clone()
        Qcfs =
            { r.Qcfs with
                Thresholds =
                    thetas
                    |> List.mapi (fun i t -> { Layer = $"act{i + 1}"; Threshold = t })
                    |> Array.ofList } }

let private qcfsFrom theta0 =
    $"""{{"pipeline": [{{"step": "trainRelu", "epochs": 2}}, {{"step": "qcfs", "levels": 4, "initial_threshold": {theta0}}}]}}"""

[<Tests>]
let tests =
    testList
        "QcfsSettling"
        [ test "thresholds all above half their start did not settle; one below it did" {
              let quick = run (qcfsFrom 8) [ 7.59; 6.95; 7.41 ]
              Expect.equal (QcfsSettling.initialThreshold quick) (Some 8.0) "theta0 from the experiment"
              Expect.equal (QcfsSettling.unsettled quick) (Some(8.0, 6.95, 7.59)) "start, lowest, highest"

              Expect.stringContains
                  (QcfsSettling.note quick)
                  "its learned thresholds (6.95-7.59) are all still above half their start (8)"
                  "the note names the range and the start"

              Expect.isNone (QcfsSettling.unsettled (run (qcfsFrom 8) [ 7.59; 3.99; 7.41 ])) "one threshold below 4"
              Expect.isNone (QcfsSettling.unsettled (run (qcfsFrom 8) [ 0.91; 2.45; 2.17 ])) "the bench profile's"
              Expect.equal (QcfsSettling.unsettled (run (qcfsFrom 2.5) [ 1.3 ])) (Some(2.5, 1.3, 1.3)) "any start"
          }

          test "no note without a qcfs step, without thresholds or without an experiment" {
              Expect.isNone
                  (QcfsSettling.unsettled (run """{"pipeline": [{"step": "trainRelu"}]}""" [ 7.5 ]))
                  "no qcfs step"

              Expect.isNone (QcfsSettling.unsettled (run (qcfsFrom 8) [])) "no thresholds recorded"
              Expect.isNone (QcfsSettling.unsettled (run "{}" [ 7.5 ])) "no pipeline"
              Expect.equal (QcfsSettling.note (run (qcfsFrom 8) [ 1.0 ])) "" "settled: no note"
          }

          test "report.md adds the note to the QCFS QC ANN's line only when the thresholds did not settle" {
              let md r = Markdown.render r []
              let line = "- QCFS baseline: QC ANN at L = 4: 89.00"

              Expect.stringContains
                  (md (run (qcfsFrom 8) [ 7.5; 7.0 ]))
                  "; its learned thresholds (7.00-7.50)"
                  "unsettled"

              Expect.isFalse ((md (run (qcfsFrom 8) [ 1.5; 7.0 ])).Contains "its learned thresholds") "settled"
              Expect.stringContains (md (run (qcfsFrom 8) [ 1.5; 7.0 ])) line "the line itself stays"
          } ]
