module Snn.Dsl.Tests.Reporting.AccuraciesTests

open Expecto
open Snn.Dsl.Reporting
open Snn.Dsl.Tests.Reporting.StatisticsFixture

[<Tests>]
let tests =
    testList
        "Accuracies"
        [ test "every accuracy of the results, keyed by its place in results.json, with its images" {
              let r = results ()
              let all = Accuracies.ofResults r
              let byKey = all |> List.map (fun a -> a.Key, a) |> Map.ofList
              Expect.equal all.Length byKey.Count "keys are unique"

              let expect key label t accuracy images =
                  let a = byKey[key]
                  Expect.equal (a.Label, a.T, a.Accuracy, a.Images) (label, t, accuracy, images) key

              expect "ann.test_accuracy" "ReLU ANN" 0 93.0 200
              expect "ann.held_out_accuracy" "ReLU ANN (held-out)" 0 92.0 100
              expect "clip_ann.test_accuracy" "Phase-I clip ANN" 0 92.0 200
              expect "qcfs.ann_test_accuracy" "QCFS QC ANN (L = 4)" 0 89.0 200
              expect "qcfs.snn[t=2].test_accuracy" "QCFS SNN" 2 70.0 100
              expect "dual_phase[t=1].qc_ann_test_accuracy" "QC ANN (L = 1)" 1 90.0 200
              expect "dual_phase[t=1].snn.direct" "direct" 1 40.0 100
              expect "dual_phase[t=1].snn.weights" "+ weights" 1 84.0 100
              expect "dual_phase[t=1].snn.final" "dual-phase final" 1 87.0 100
              expect "dual_phase[t=1].stages[3]" "Phase II (potential, weights, potential)" 1 87.0 100

              // Two ANNs on two splits, the QCFS ANN, QCFS at 2 T; T = 1: QC ANN, 5 columns, 4 stage
              // rows; T = 2: QC ANN, 3 columns, 2 rows.
              Expect.equal all.Length (4 + 1 + 2 + 10 + 6) "NaN figures (no ablation at T = 2) left out"
          } ]
