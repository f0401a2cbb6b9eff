module Snn.Dsl.Tests.Reporting.StatisticsTests

open Expecto
open MathNet.Numerics.Distributions
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Tests.Common
open Snn.Dsl.Tests.Reporting.StatisticsFixture

/// The comparisons at T as (candidate, baseline, b, c, p), p rounded to 12 significant digits
/// (the exact values are powers of two and fractions; computed through logarithms).
let private tests' (cs: PairedComparison[]) t =
    cs
    |> Array.filter (fun c -> c.T = t)
    |> Array.map (fun c -> c.Candidate, c.Baseline, c.BaselineOnly, c.CandidateOnly, float (c.PValue.ToString "G12"))

let private g12 (x: float) = float (x.ToString "G12")

[<Tests>]
let tests =
    testList
        "Statistics"
        [ test "every accuracy of results.json has a Clopper-Pearson interval on its own images" {
              let r = results ()
              let s = r.Statistics
              Expect.equal s.Confidence 0.95 "95 %"
              Expect.stringContains s.IntervalMethod "Clopper-Pearson" "the method is named"

              Expect.equal
                  (s.Accuracies |> Array.map _.Key |> Set.ofArray)
                  (Accuracies.ofResults r |> List.map _.Key |> Set.ofList)
                  "one interval per accuracy"

              for i in s.Accuracies do
                  let correct = int (round (i.Accuracy * float i.Images / 100.0))
                  Expect.equal i.Correct correct $"{i.Key}: the count behind the accuracy"

                  let low =
                      if correct = 0 then
                          0.0
                      else
                          Beta.InvCDF(float correct, float (i.Images - correct + 1), 0.025)

                  let high =
                      if correct = i.Images then
                          1.0
                      else
                          Beta.InvCDF(float (correct + 1), float (i.Images - correct), 0.975)

                  Expect.floatClose
                      { absolute = 0.0
                        relative = Tolerance.betaInverse }
                      i.Low
                      (100.0 * low)
                      $"{i.Key}: low"

                  Expect.floatClose
                      { absolute = 0.0
                        relative = Tolerance.betaInverse }
                      i.High
                      (100.0 * high)
                      $"{i.Key}: high"

                  let wilsonLow, wilsonHigh = Binomial.wilson 0.95 correct i.Images

                  Expect.equal
                      (i.WilsonLow, i.WilsonHigh)
                      (100.0 * wilsonLow, 100.0 * wilsonHigh)
                      $"{i.Key}: Wilson beside it"

              let byKey = s.Accuracies |> Array.map (fun i -> i.Key, i) |> Map.ofArray

              Expect.equal
                  (byKey["ann.test_accuracy"].Images, byKey["ann.test_accuracy"].Correct)
                  (200, 186)
                  "the ANN on the whole test split"

              Expect.equal byKey["ann.held_out_accuracy"].Images 100 "held-out split"
              Expect.equal byKey["dual_phase[t=1].snn.final"].Images 100 "SNNs on the SNN test images"

              Expect.isFalse
                  (byKey.ContainsKey "dual_phase[t=2].snn.potential")
                  "no interval for a figure the run did not produce"
          }

          test "each stage is tested against the one before it on the same images (exact McNemar, by hand)" {
              let s = (results ()).Statistics

              Expect.equal
                  (tests' s.Stages 1)
                  [| "phase1", "direct", 0, 40, g12 (2.0 ** -39.0)
                     "Phase II (potential)", "phase1", 0, 3, 0.25
                     "Phase II (potential, weights)", "Phase II (potential)", 0, 1, 1.0
                     // b = images 80-83, c = images 85-91: 2 (1 + 11 + 55 + 165 + 330) / 2^11.
                     "Phase II (potential, weights, potential)",
                     "Phase II (potential, weights)",
                     4,
                     7,
                     g12 (1124.0 / 2048.0) |]
                  "T = 1: direct, Phase I, + potential, + weights, final"

              let last = s.Stages |> Array.find (fun c -> c.T = 1 && c.BaselineOnly = 4)

              Expect.equal
                  (last.BaselineAccuracy, last.CandidateAccuracy, last.Images)
                  (84.0, 87.0, 100)
                  "accuracies and images"
          }

          test "the dual-phase SNN as the pipeline left it is tested against QCFS at each T" {
              let s = (results ()).Statistics

              Expect.equal
                  (tests' s.VersusQcfs 1)
                  [| "Phase II (potential, weights, potential)", "QCFS SNN (L = 4)", 0, 27, g12 (2.0 ** -26.0) |]
                  "T = 1: 20 + 7 images only the dual-phase SNN gets right"

              Expect.equal
                  (tests' s.VersusQcfs 2)
                  [| "Phase II (potential, weights, potential)", "QCFS SNN (L = 4)", 0, 18, g12 (2.0 ** -17.0) |]
                  "T = 2"
          }

          test "the dual-phase SNN is tested against the QC ANN it was converted from, on the SNN test images" {
              let s = (results ()).Statistics

              // T = 1: b = images 80-84 (ANN only), c = 90-91 (SNN only): 2 (1 + 7 + 21) / 2^7.
              Expect.equal
                  (tests' s.VersusSource 1)
                  [| "Phase II (potential, weights, potential)", "QC ANN (L = 1)", 5, 2, g12 (58.0 / 128.0) |]
                  "T = 1"

              // T = 2: b = images 88-89, c = none: 2 / 2^2.
              Expect.equal
                  (tests' s.VersusSource 2)
                  [| "Phase II (potential, weights, potential)", "QC ANN (L = 2)", 2, 0, 0.5 |]
                  "T = 2"

              let c = s.VersusSource |> Array.find (fun c -> c.T = 1)

              Expect.equal
                  (c.BaselineAccuracy, c.CandidateAccuracy, c.Images)
                  (90.0, 87.0, 100)
                  "the ANN's accuracy on the SNN's 100 images, not on its 200"

              // A QC ANN trained on after the conversion (a later record) does not replace the one
              // the SNN was converted from.
              let later =
                  Build.build
                      info
                      facts
                      "digest"
                      (records @ [ annWith (Snn.Dsl.Pipeline.QcAnn 1) 50.0 50.0 (Some [ 0, 99 ]) ])
                      10.0

              Expect.equal
                  (tests' later.Statistics.VersusSource 1)
                  (tests' s.VersusSource 1)
                  "the record before the SNN's row"

              // Without the ANN's per-image results (a record written before they were kept): a note.
              let old =
                  records
                  |> List.map (function
                      | AnnTrained a when a.Ann = Snn.Dsl.Pipeline.QcAnn 2 ->
                          AnnTrained { a with TestPerImageCorrect = null }
                      | r -> r)

              let oldStats = (Build.build info facts "digest" old 10.0).Statistics
              Expect.isEmpty (tests' oldStats.VersusSource 2) "not compared at T = 2"

              Expect.contains
                  oldStats.Notes
                  "T = 2: Phase II (potential, weights, potential) vs QC ANN (L = 2): not compared, QC ANN (L = 2): no per-image results recorded"
                  "the note says why"
          }

          test "an evaluation without per-image results is not compared, and the notes say why" {
              let s = (results ()).Statistics
              Expect.isEmpty (tests' s.Stages 2) "nothing to compare at T = 2"

              Expect.equal
                  (List.ofArray s.Notes)
                  [ "T = 2: phase1 vs direct: not compared, phase1: no per-image results recorded"
                    "T = 2: Phase II (potential, weights, potential) vs phase1: not compared, phase1: no per-image results recorded" ]
                  "both comparisons that touch it"
          }

          test "per-image results that disagree with the row's accuracy are not used" {
              let bad =
                  { row 1 ClipAnn None [] false (Choice1Of2(hits [ 0, 39 ])) with
                      Accuracy = 41.0 }

              let records =
                  records
                  |> List.map (function
                      | SnnEvaluated r when r.T = 1 && r.MadeFor.IsNone -> SnnEvaluated bad
                      | r -> r)

              let s = (Build.build info facts "digest" records 1.0).Statistics

              Expect.contains
                  s.Notes
                  "T = 1: phase1 vs direct: not compared, direct: its per-image results count 40 right, its accuracy 41"
                  "the disagreement is named"
          } ]
