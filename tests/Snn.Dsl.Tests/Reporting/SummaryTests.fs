module Snn.Dsl.Tests.Reporting.SummaryTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl.Reporting
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Tests.Common
open Snn.Dsl.Tests.Reporting.StatisticsFixture

/// The fixture's results with every dual-phase final accuracy shifted by `delta`, and without
/// QCFS at T = 2 when `dropQcfs`.
let private shifted delta dropQcfs =
    let r = results ()

    { r with
        DualPhase =
            r.DualPhase
            |> Array.map (fun d ->
                { d with
                    Snn =
                        { d.Snn with
                            Final = d.Snn.Final + delta } })
        Qcfs =
            { r.Qcfs with
                Snn = r.Qcfs.Snn |> Array.filter (fun q -> not dropQcfs || q.T = 1) } }

/// The fixture's results with QCFS thresholds act1 = `theta1`, act2 = 2 and QCFS SNN accuracies
/// `acc1` at T = 1 and `acc2` at T = 2.
let private withQcfs theta1 (acc1: float) (acc2: float) =
    let r = results ()

    { r with
        Qcfs =
            { r.Qcfs with
                Thresholds =
                    [| { Layer = "act1"; Threshold = theta1 }
                       { Layer = "act2"; Threshold = 2.0 } |]
                Snn =
                    r.Qcfs.Snn
                    |> Array.map (fun q ->
                        { q with
                            TestAccuracy = if q.T = 1 then acc1 else acc2 }) } }

[<Tests>]
let tests =
    testList
        "Summary"
        [ testProperty "mean and sample standard deviation equal MathNet's"
          <| Prop.forAll
              (Arb.fromGen (
                  Gen.choose (2, 8)
                  |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (0, 10000)))
              ))
              (fun counts ->
                  let xs = counts |> Array.map (fun k -> float k / 100.0)

                  Expect.floatClose
                      Accuracy.veryHigh
                      (Summary.mean xs)
                      (MathNet.Numerics.Statistics.Statistics.Mean xs)
                      "mean"

                  Expect.floatClose
                      Accuracy.veryHigh
                      (Summary.standardDeviation xs)
                      (MathNet.Numerics.Statistics.Statistics.StandardDeviation xs)
                      "standard deviation (n - 1)")

          testProperty "the t-test's p-value is Student's closed form at 1 and 2 degrees of freedom"
          <| Prop.forAll
              (Arb.fromGen (
                  Gen.choose (2, 3)
                  |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (-300, 300)))
                  |> Gen.filter (fun ks -> Array.distinct ks |> Array.length > 1)
              ))
              (fun counts ->
                  let xs = counts |> Array.map (fun k -> float k / 100.0)
                  let n = float xs.Length
                  let sd = MathNet.Numerics.Statistics.Statistics.StandardDeviation xs
                  let t = MathNet.Numerics.Statistics.Statistics.Mean xs / (sd / sqrt n)
                  let r = Summary.tTest xs
                  Expect.equal r.DegreesOfFreedom (xs.Length - 1) "n - 1"
                  Expect.floatClose Accuracy.veryHigh r.Statistic t "t = mean / (sd / sqrt n)"
                  // 2 (1 - F(|t|)): F(t) = 1/2 + atan(t) / pi at 1, 1/2 + t / (2 sqrt(2 + t^2)) at 2.
                  let expected =
                      if xs.Length = 2 then
                          1.0 - 2.0 * atan (abs t) / Math.PI
                      else
                          1.0 - abs t / sqrt (2.0 + t * t)

                  Expect.floatClose Accuracy.high r.PValue expected "two-sided p")

          test "the t-test: a hand-checked case, the degenerate ones and NaN ignored" {
              let r = Summary.tTest [| 1.0; 2.0; 3.0; nan |]
              // mean 2, sd 1: t = 2 sqrt 3; p = 1 - t / sqrt(2 + t^2) = 1 - sqrt(6 / 7).
              Expect.floatClose Accuracy.veryHigh r.Statistic (2.0 * sqrt 3.0) "t"
              Expect.floatClose Accuracy.high r.PValue (1.0 - sqrt (6.0 / 7.0)) "p = 0.0742"
              Expect.equal r.DegreesOfFreedom 2 "the NaN is not a seed"
              let zero = Summary.tTest [| 0.0; 0.0; 0.0 |]
              Expect.equal (zero.Statistic, zero.PValue) (0.0, 1.0) "no difference at all"
              let same = Summary.tTest [| -0.5; -0.5 |]
              Expect.equal (same.Statistic, same.PValue) (-infinity, 0.0) "the same non-zero difference twice"
              let one = Summary.tTest [| 0.5 |]
              Expect.isTrue (Double.IsNaN one.Statistic && Double.IsNaN one.PValue) "one seed: undefined"
              Expect.equal one.DegreesOfFreedom 0 "no degrees of freedom"
          }

          test "every accuracy over seeds: mean, standard deviation and the value of each seed" {
              let runs =
                  [ 0, "runs/x/seed-0", shifted 0.0 false
                    1, "runs/x/seed-1", shifted 2.0 true
                    2, "runs/x/seed-2", shifted 4.0 false ]

              let s = Summary.ofRuns runs
              Expect.equal s.Seeds [| 0; 1; 2 |] "seeds"
              let byKey = s.Accuracies |> Array.map (fun a -> a.Key, a) |> Map.ofArray
              let final = byKey["dual_phase[t=1].snn.final"]
              Expect.equal final.Values [| 87.0; 89.0; 91.0 |] "per seed"
              Expect.floatClose Accuracy.veryHigh final.Mean 89.0 "mean"
              Expect.floatClose Accuracy.veryHigh final.StandardDeviation 2.0 "sqrt((4 + 0 + 4) / 2)"
              Expect.equal (final.Min, final.Max) (87.0, 91.0) "min and max"
              let ann = byKey["ann.test_accuracy"]
              Expect.equal (ann.Mean, ann.StandardDeviation) (93.0, 0.0) "the same in every seed"
              let q2 = byKey["qcfs.snn[t=2].test_accuracy"]
              Expect.isTrue (Double.IsNaN q2.Values[1]) "a seed without the figure"
              Expect.equal q2.Mean 70.0 "mean over the seeds that have it"
              Expect.equal (q2.Min, q2.Max) (q2.Values[0], q2.Values[2]) "min and max over the seeds that have it"

              Expect.equal
                  (s.Accuracies |> Array.map _.Key)
                  (Accuracies.ofResults (results ()) |> List.map _.Key |> Array.ofList)
                  "every accuracy of a run, in its order"

              let md = Summary.render s
              Expect.stringContains md "# Summary over seeds 0, 1, 2" "title"

              Expect.stringContains
                  md
                  "| 1 | 60.00 ± 0.00 (60.00-60.00) | 40.00 ± 0.00 (40.00-40.00) | 80.00 ± 0.00 (80.00-80.00) | 83.00 ± 0.00 (83.00-83.00) | 84.00 ± 0.00 (84.00-84.00) | 89.00 ± 2.00 (87.00-91.00) | 90.00 ± 0.00 (90.00-90.00) |"
                  "the summary table at T = 1"

              Expect.stringContains
                  md
                  "| dual-phase final | 1 | 89.00 | 2.00 | 87.00-91.00 | 87.00 | 89.00 | 91.00 |"
                  "every accuracy per seed"
          }

          test "the summary table has a row at every T the QCFS SNN was scored at, in a QCFS-only experiment too" {
              let qcfsOnly = { results () with DualPhase = [||] }

              let s =
                  Summary.ofRuns [ 0, "runs/x/seed-0", qcfsOnly; 1, "runs/x/seed-1", qcfsOnly ]

              Expect.equal (Summary.tableTimeSteps s) [| 1; 2 |] "the QCFS T"
              let md = Summary.render s
              let dash = String.replicate 5 " — |"

              Expect.stringContains md $"| 1 | 60.00 ± 0.00 (60.00-60.00) |{dash} — |" "T = 1: QCFS only"
              Expect.stringContains md $"| 2 | 70.00 ± 0.00 (70.00-70.00) |{dash} — |" "T = 2: QCFS only"
          }

          test "Spearman's rank correlation: hand-checked values, ties at their mean rank, NaN pairs left out" {
              Expect.floatClose
                  Accuracy.veryHigh
                  (Summary.spearman [| 1.0; 2.0; 3.0; nan |] [| 3.0; 2.0; 1.0; 9.0 |])
                  -1.0
                  "reversed order"
              // ranks [1, 3, 2] and [2.5, 2.5, 1]: deviations [-1, 1, 0] and [0.5, 0.5, -1], covariance 0.
              Expect.floatClose
                  Accuracy.veryHigh
                  (Summary.spearman [| 0.9; 1.2; 1.0 |] [| 80.0; 80.0; 70.0 |])
                  0.0
                  "a tie"
              // ranks [1, 2, 3, 4] and [1, 3, 2, 4]: 1 - 6 * 2 / (4 * 15) = 0.8.
              Expect.floatClose
                  Accuracy.veryHigh
                  (Summary.spearman [| 1.0; 2.0; 3.0; 4.0 |] [| 10.0; 30.0; 20.0; 40.0 |])
                  0.8
                  "one swap of four"

              Expect.isTrue (Double.IsNaN(Summary.spearman [| 1.0; 2.0 |] [| 2.0; 1.0 |])) "two pairs: undefined"

              Expect.isTrue
                  (Double.IsNaN(Summary.spearman [| 1.0; 2.0; 3.0 |] [| 5.0; 5.0; 5.0 |]))
                  "a constant side: undefined"
          }

          test "the QCFS thresholds over seeds, and how the QCFS SNN's accuracy ranks with the first one" {
              let s =
                  Summary.ofRuns
                      [ 0, "runs/x/seed-0", withQcfs 0.9 70.0 80.0
                        1, "runs/x/seed-1", withQcfs 1.2 50.0 80.0
                        2, "runs/x/seed-2", withQcfs 1.0 60.0 70.0 ]

              Expect.equal (s.QcfsThresholds |> Array.map _.Layer) [| "act1"; "act2" |] "every layer, in order"
              let first = s.QcfsThresholds[0]
              Expect.equal first.Values [| 0.9; 1.2; 1.0 |] "per seed"
              Expect.floatClose Accuracy.veryHigh first.Mean (3.1 / 3.0) "mean"
              Expect.equal s.QcfsThresholds[1].StandardDeviation 0.0 "the same at every seed"

              Expect.equal
                  (s.QcfsThresholdCorrelations |> Array.map (fun c -> c.T, c.Pairs))
                  [| 1, 3; 2, 3 |]
                  "one correlation per QCFS T, over the three seeds"

              Expect.floatClose Accuracy.veryHigh s.QcfsThresholdCorrelations[0].Spearman -1.0 "T = 1: reversed"
              Expect.floatClose Accuracy.veryHigh s.QcfsThresholdCorrelations[1].Spearman 0.0 "T = 2: a tie"
              let md = Summary.render s
              Expect.stringContains md "## QCFS learned thresholds" "its own section"
              Expect.stringContains md "T = 1: -1.00 (3 seeds), T = 2: 0.00 (3 seeds)." "the correlations"

              Expect.stringContains
                  md
                  "| act1 | 1.03 | 0.15 | 0.90-1.20 | 0.90 | 1.20 | 1.00 |"
                  "the first layer per seed"
          }

          test "without QCFS thresholds there is no threshold section, and fewer than three seeds have no correlation" {
              let none =
                  Summary.ofRuns [ 0, "runs/x/seed-0", results (); 1, "runs/x/seed-1", results () ]

              Expect.isEmpty none.QcfsThresholds "no thresholds recorded"
              Expect.isEmpty none.QcfsThresholdCorrelations "nothing to correlate"
              Expect.isFalse ((Summary.render none).Contains "QCFS learned thresholds") "no section"

              let two =
                  Summary.ofRuns [ 0, "runs/x/seed-0", withQcfs 0.9 70.0 80.0; 1, "runs/x/seed-1", results () ]

              Expect.isTrue (Double.IsNaN two.QcfsThresholds[0].Values[1]) "a run without the thresholds"
              Expect.equal (two.QcfsThresholdCorrelations |> Array.map _.Pairs) [| 1; 1 |] "one seed with both"
              Expect.isFalse ((Summary.render two).Contains "Spearman") "no correlation sentence"
          }

          test "one seed has no standard deviation; summary.json round-trips" {
              let s = Summary.ofRuns [ 5, "runs/x/seed-5", results () ]

              let final =
                  s.Accuracies |> Array.find (fun a -> a.Key = "dual_phase[t=1].snn.final")

              Expect.isTrue (Double.IsNaN final.StandardDeviation) "NaN for one value"
              Expect.stringContains (Summary.render s) "| 1 | 60.00 | 40.00 |" "shown without ±"
              let folder = Path.Combine(Path.GetTempPath(), $"snn-summary-{Guid.NewGuid():N}")
              Directory.CreateDirectory folder |> ignore

              try
                  let json, md = Summary.save folder [] s
                  Expect.isTrue (File.Exists md) "summary.md"
                  let back = Summary.load json

                  Expect.equal
                      (Text.Json.JsonSerializer.Serialize(back, jsonOptions))
                      (Text.Json.JsonSerializer.Serialize(s, jsonOptions))
                      "the same JSON after a round trip"
              finally
                  Directory.Delete(folder, true)
          } ]
