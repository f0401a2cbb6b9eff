module Snn.Dsl.Tests.Reporting.SummaryPlotTests

open System
open System.IO
open Expecto
open Snn.Dsl.Reporting
open Snn.Dsl.Reporting.Summary

let private accuracy t (values: float[]) =
    { Key = $"qcfs.snn[t={t}].test_accuracy"
      Label = "QCFS SNN"
      T = t
      Mean = mean values
      StandardDeviation = standardDeviation values
      Min = Array.min values
      Max = Array.max values
      Values = values }

/// Three seeds: first thresholds 0.9, nan (a run without QCFS thresholds), 1.2; QCFS at T = 1, 2.
let private summary () =
    let theta = [| 0.9; nan; 1.2 |]

    { Seeds = [| 0; 1; 2 |]
      Folders = [| "a"; "b"; "c" |]
      Dataset = "fashion-mnist"
      Profile = "bench"
      Accuracies = [| accuracy 1 [| 70.0; 60.0; 50.0 |]; accuracy 2 [| 80.0; 75.0; nan |] |]
      QcfsThresholds =
        [| { Layer = "act1"
             Mean = mean theta
             StandardDeviation = standardDeviation theta
             Min = 0.9
             Max = 1.2
             Values = theta } |]
      QcfsThresholdCorrelations = [| { T = 1; Pairs = 2; Spearman = nan }; { T = 2; Pairs = 1; Spearman = nan } |] }

[<Tests>]
let tests =
    testList
        "SummaryPlot"
        [ test "a point per seed with both figures, per QCFS T" {
              let points = SummaryPlot.points (summary ())

              Expect.equal
                  (points |> List.map (fun (t, _, pairs) -> t, pairs))
                  [ 1, [| 0.9, 70.0; 1.2, 50.0 |]; 2, [| 0.9, 80.0 |] ]
                  "the seed without a threshold and the missing accuracy left out"

              Expect.isTrue (SummaryPlot.applies (summary ())) "T = 1 has two points"

              let one =
                  { summary () with
                      Accuracies = [| accuracy 1 [| 70.0; 60.0; nan |] |] }

              Expect.isFalse (SummaryPlot.applies one) "one point per T is nothing to plot"

              Expect.isFalse
                  (SummaryPlot.applies
                      { summary () with
                          QcfsThresholds = [||] })
                  "no QCFS thresholds"
          }

          test "the plot is a PNG in the summary's folder" {
              let folder =
                  Path.Combine(Path.GetTempPath(), $"snn-summary-plot-{Guid.NewGuid():N}")

              Directory.CreateDirectory folder |> ignore

              try
                  let path = SummaryPlot.qcfsThresholdVsAccuracy folder (summary ())
                  Expect.equal path (Path.Combine(folder, SummaryPlot.FileName)) "its name"
                  let bytes = File.ReadAllBytes path
                  Expect.isGreaterThan bytes.Length 1000 "a picture"
                  Expect.sequenceEqual bytes[0..3] [| 137uy; 80uy; 78uy; 71uy |] "a PNG"
              finally
                  Directory.Delete(folder, true)
          } ]
