module Snn.Dsl.Tests.Reporting.MarkdownTests

open Expecto
open Snn.Dsl.Reporting
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Tests.Reporting.StatisticsFixture

let private f2 (x: float) =
    x.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)

/// "[low, high]" of k right of n, in %, from MathNet's beta quantiles (an independent computation).
let private interval k n =
    let low =
        MathNet.Numerics.Distributions.Beta.InvCDF(float k, float (n - k + 1), 0.025)

    let high =
        MathNet.Numerics.Distributions.Beta.InvCDF(float (k + 1), float (n - k), 0.975)

    $"[{f2 (100.0 * low)}, {f2 (100.0 * high)}]"

[<Tests>]
let tests =
    testList
        "Markdown"
        [ test "report.md shows a 95 % interval for every accuracy and the p-value of every comparison" {
              let md = Markdown.render (results ()) []
              Expect.stringContains md "## Statistics" "a statistics section"
              Expect.stringContains md "Clopper-Pearson" "the interval method is named"
              Expect.stringContains md "exact McNemar" "the test is named"
              Expect.stringContains md $"- ReLU ANN: **93.00** {interval 186 200}" "the ANN's interval"
              Expect.stringContains md $"(held-out 92.00 {interval 92 100})" "and on the held-out split"
              Expect.stringContains md $"QC ANN at L = 4: 89.00 {interval 178 200}" "the QCFS ANN's"
              Expect.stringContains md $"| QCFS SNN | 60.00 | {interval 60 100} |" "QCFS at T = 1"
              Expect.stringContains md $"| direct | 40.00 | {interval 40 100} |" "direct conversion"
              Expect.stringContains md $"| phase1 | 80.00 | {interval 80 100} |" "Phase I"
              Expect.stringContains md $"| QC ANN (L = 1) | 90.00 | {interval 180 200} |" "the QC ANN"

              Expect.stringContains
                  md
                  "| Phase II (potential, weights, potential) vs Phase II (potential, weights) | 87.00 vs 84.00 | 4 | 7 | 0.5488 |"
                  "the last ablation step, p = 1124 / 2048"

              Expect.stringContains
                  md
                  "| phase1 vs direct | 80.00 vs 40.00 | 0 | 40 | 1.82e-12 |"
                  "Phase I against direct"

              Expect.stringContains
                  md
                  "| dual-phase SNN (Phase II (potential, weights, potential)) vs QCFS SNN (L = 4) | 87.00 vs 60.00 | 0 | 27 | 1.49e-8 |"
                  "dual-phase against QCFS"

              Expect.stringContains
                  md
                  "| dual-phase SNN (Phase II (potential, weights, potential)) vs QC ANN (L = 1) | 87.00 vs 90.00 | 5 | 2 | 0.4531 |"
                  "dual-phase against the QC ANN it was converted from, p = 58 / 128"

              Expect.stringContains
                  md
                  "- T = 2: phase1 vs direct: not compared, phase1: no per-image results recorded"
                  "what could not be compared"

              let table = Markdown.summaryTable (results ())

              Expect.stringContains
                  table
                  $"| 1 | 93.00 | 60.00 {interval 60 100} | 40.00 {interval 40 100} |"
                  "the summary table: QCFS and direct with intervals"

              Expect.stringContains table $"**87.00** {interval 87 100}" "and the dual-phase final"

              // Every SNN accuracy of the summary table has its interval in the T sections.
              for i in (results ()).Statistics.Accuracies do
                  Expect.stringContains md $"[{f2 i.Low}, {f2 i.High}]" $"{i.Key} is shown with its interval"
          }

          test
              "the QCFS baseline's thresholds and the error anatomy of its SNN are in report.md; a run without QCFS shows none" {
              let r = results ()

              let layer name theta =
                  { Name = name
                    Stage = "qcfs-T1"
                    ResidualMeanAbs = 0.0123
                    QuantizationMeanAbs = 0.2190
                    ClippingMeanAbs = 0.0007
                    ResidualMean = -0.0045
                    QuantizationMean = -0.1930
                    ClippingMean = -0.0007
                    TotalMeanAbs = 0.2197
                    NegativeShare = 0.0136
                    OverflowShare = 0.0001
                    Threshold = theta }

              let withAnatomy =
                  { r with
                      Qcfs =
                          { r.Qcfs with
                              Thresholds =
                                  [| { Layer = "act1"; Threshold = 3.8667 }
                                     { Layer = "act2"; Threshold = 4.0386 } |]
                              Snn =
                                  r.Qcfs.Snn
                                  |> Array.map (fun p ->
                                      { p with
                                          Layers = [| layer "conv1" 3.8667; layer "fc1" 4.0386 |] }) } }

              let md = Markdown.render withAnatomy []
              Expect.stringContains md "### QCFS baseline (L = 4)" "a QCFS section"
              Expect.stringContains md "Learned thresholds |theta| per layer: act1 3.87, act2 4.04." "its thresholds"

              Expect.stringContains
                  md
                  "| 1 | conv1 | 3.87 | 0.0123 | -0.0045 | 0.2190 | 0.0007 | 1.36% | 0.01% |"
                  "a layer's anatomy at T = 1"

              Expect.stringContains md "| 2 | fc1 | 4.04 |" "every T"

              let none =
                  { r with
                      Qcfs =
                          { L = 0
                            AnnTestAccuracy = nan
                            Thresholds = [||]
                            Snn = [||] } }

              let plain = Markdown.render none []
              Expect.isFalse (plain.Contains "QCFS baseline") "no QCFS line or section without a QCFS step"
          }

          test "a p-value below double's range is shown from its log10; a results.json without statistics says so" {
              let c =
                  { T = 1
                    Baseline = "a"
                    Candidate = "b"
                    BaselineAccuracy = 0.0
                    CandidateAccuracy = 50.0
                    Images = 10000
                    BaselineOnly = 0
                    CandidateOnly = 5000
                    PValue = Binomial.mcNemar 0 5000
                    Log10PValue = Binomial.mcNemarLog10 0 5000 }

              Expect.equal (Markdown.pValue c) "10^-1504.8" "2 / 2^5000"
              Expect.equal (Markdown.pValue { c with PValue = 0.0625 }) "0.0625" "four decimals"

              let old =
                  { results () with
                      Statistics = Unchecked.defaultof<RunStatistics> }

              Expect.stringContains
                  (Markdown.render old [])
                  "This results.json was written before statistics were kept"
                  "an old results.json renders"
          } ]
