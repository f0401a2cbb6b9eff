module Snn.Dsl.Tests.Reporting.PlotsTests

open System.IO
open Expecto
open Snn.Dsl.Reporting
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Tests.Common
open Snn.Dsl.Tests.Reporting.StatisticsFixture

/// Error terms of one layer and stage, small enough that the plot's ticks are fractions (0.02, 0.04, ...).
let private layer name stage residual quantization =
    { Name = name
      Stage = stage
      ResidualMeanAbs = residual
      QuantizationMeanAbs = quantization
      ClippingMeanAbs = 0.01
      ResidualMean = 0.0
      QuantizationMean = 0.0
      ClippingMean = 0.0
      TotalMeanAbs = residual + quantization
      NegativeShare = 0.1
      OverflowShare = 0.0
      Threshold = 1.5 }

/// The fixture's results with an error anatomy and a potential histogram at T = 1.
let private withAnatomy () =
    let r = results ()
    let d = r.DualPhase[0]

    let anatomy =
        { d with
            Layers =
                [| layer "conv1" "phase1" 0.05 0.08
                   layer "conv2" "phase1" 0.07 0.06
                   layer "conv1" "final" 0.01 0.08
                   layer "conv2" "final" 0.02 0.06 |]
            Potentials =
                [| { Name = "conv1"
                     Stage = "phase1"
                     Low = -1.0
                     High = 2.0
                     Counts = [| 5L; 20L; 40L; 25L; 10L; 3L |] } |] }

    { r with
        DualPhase = Array.append [| anatomy |] r.DualPhase[1..] }

/// Every PNG writeAll makes for these results, by file name, written under the named culture.
let private pngsUnder culture (r: RunResults) =
    let folder =
        Path.Combine(Path.GetTempPath(), $"snn-plots-{System.Guid.NewGuid():N}")

    Directory.CreateDirectory folder |> ignore

    try
        inCulture culture (fun () -> Plots.writeAll folder r)
        |> List.map (fun p -> Path.GetFileName p, File.ReadAllBytes p)
        |> Map.ofList
    finally
        Directory.Delete(folder, true)

[<Tests>]
let tests =
    testList
        "Plots"
        [ test "writeAll draws the accuracy, energy, error and potential plots as PNG files" {
              let pngs = pngsUnder "en-US" (withAnatomy ())

              Expect.equal
                  (pngs |> Map.keys |> List.ofSeq)
                  [ "accuracy_vs_T.png"; "energy_vs_T.png"; "errors_T1.png"; "potentials_T1.png" ]
                  "one plot per kind, the anatomy plots at the T that has an anatomy"

              for KeyValue(name, bytes) in pngs do
                  Expect.isGreaterThan bytes.Length 1000 $"{name} holds a picture"

                  Expect.sequenceEqual
                      bytes[0..7]
                      [| 137uy; 80uy; 78uy; 71uy; 13uy; 10uy; 26uy; 10uy |]
                      $"{name} is a PNG"
          }

          test "plots label their axes with decimal points whatever the locale, as report.md does" {
              let r = withAnatomy ()
              let english = pngsUnder "en-US" r
              let german = pngsUnder "de-DE" r

              for KeyValue(name, bytes) in english do
                  Expect.isTrue (bytes = german[name]) $"{name} under de-DE is the same picture as under en-US"
          } ]
