module Snn.Dsl.Tests.Pipeline.Steps.ClipFromReluTests

open System
open System.IO
open Expecto
open TorchSharp
open Snn.Core.Activations
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps
open Snn.Dsl.Tests.Pipeline.TestPipelines
open Snn.Dsl.Tests.Pipeline.ImportedPipelines

let private withParameters percentile images =
    Step.create
        ClipFromRelu.definition
        { Percentile = percentile
          Images = images }

let private statistic layer percentile : ActivationStatistics.LayerStatistics =
    { Layer = layer
      Count = 10L
      Positive = (if Double.IsNaN percentile then 0L else 5L)
      Max = 9.0
      Percentile = percentile }

let private compiled activation spec =
    match Compile.compile activation spec with
    | Ok n -> n
    | Error es -> failwithf "%A" es

let private spec =
    network (Image(1, 8, 8)) [ conv 3; bn; act; avgPool 2; conv 2; act; flatten; linear 4; act; linear 2 ]

// Sequenced: the runs share torch's process-wide state with the other pipeline tests.
[<Tests>]
let tests =
    testSequenced
    <| testList
        "ClipFromRelu"
        [ test "JSON: {\"step\": \"clipFromRelu\"} is the 99.9th percentile of 1,024 images; every field round-trips" {
              Expect.equal (decodeStep """{"step": "clipFromRelu"}""") (Ok(clipFromRelu 99.9)) "defaults"
              let custom = withParameters 99.99 300
              Expect.equal (decodeStep (custom.Json.ToJsonString())) (Ok custom) "round trip"

              Expect.equal
                  (decodeStep """{"step": "clipFromRelu", "percentile": "high"}""")
                  (Error [ "step.percentile: expected a finite number, got \"high\"" ])
                  "a wrong type"
          }

          test
              "validation: no ReLU ANN, percentile and image count out of range, more images than the train split, a second clip ANN" {
              Expect.equal
                  (Plan.problems smallSpec None [ clipFromRelu 99.9 ] |> List.map _.Message)
                  [ "step 0 (clipFromRelu): needs the ReLU ANN, which no earlier step makes" ]
                  "no ReLU ANN"

              let file = fashionFile 7 None

              Expect.equal
                  (problems
                      file
                      [ importAnn
                        withParameters 0.0 0
                        withParameters 100.5 1
                        withParameters nan 1 ])
                  [ "step 1 (clipFromRelu): percentile = 0 is out of range: expected (0, 100]"
                    "step 1 (clipFromRelu): images = 0 is out of range: expected >= 1"
                    "step 2 (clipFromRelu): percentile = 100.5 is out of range: expected (0, 100]"
                    "step 2 (clipFromRelu): makes the clip ANN, which step 1 already made: a pipeline trains each network once"
                    "step 3 (clipFromRelu): percentile = NaN is out of range: expected (0, 100]"
                    "step 3 (clipFromRelu): makes the clip ANN, which step 2 already made: a pipeline trains each network once" ]
                  "every problem"

              Expect.equal
                  (problemsWithData file (facts 512 10000) [ importAnn; withParameters 99.9 513; trainClip 1 ])
                  [ "step 1 (clipFromRelu): images = 513, but the train split has 512 images"
                    "step 2 (trainClip): makes the clip ANN, which step 1 already made: a pipeline trains each network once" ]
                  "against the data"

              Expect.isEmpty
                  (Plan.problems
                      smallSpecBn
                      None
                      [ trainRelu 1; clipFromRelu 99.9; foldBatchNorm; fineTuneQC [ 1 ] 1; convert ])
                  "a trained ReLU ANN works as well as an imported one"

              File.Delete file
          }

          test "each threshold: the bounded ReLU's maximum, else the percentile, else (no positive value) 1" {
              use relu = compiled (Clip 1.0) spec
              let acts = Compile.activations relu

              for l, m in List.zip acts [ 0.8f; Single.MaxValue; Single.MaxValue ] do
                  (l.Module :?> ClipActivation).Threshold.detach().fill_ m |> ignore

              let chosen =
                  ClipFromRelu.choose relu [ statistic "act1" 2.0; statistic "act2" 1.5; statistic "act3" nan ]

              Expect.equal
                  (chosen |> List.map (fun t -> t.Layer, t.Threshold, t.Source))
                  [ "act1", float 0.8f, ClipFromRelu.FromBoundedRelu
                    "act2", 1.5, ClipFromRelu.FromPercentile
                    "act3", ClipFromRelu.DeadLayerThreshold, ClipFromRelu.DeadLayer ]
                  "thresholds"
          }

          test
              "with the 100th percentile of some images, the clip ANN computes exactly what the ReLU ANN computes on them" {
              torch.manual_seed 11L |> ignore
              use relu = compiled Relu spec
              relu.eval ()
              use images = torch.randn (32L, 1L, 8L, 8L)

              let thresholds =
                  ActivationStatistics.percentiles relu 100.0 [ images ]
                  |> ClipFromRelu.choose relu

              use clip = ClipFromRelu.clipAnn relu thresholds

              Expect.equal
                  (Compile.thresholds clip |> List.map snd)
                  (thresholds |> List.map (fun t -> float (float32 t.Threshold)))
                  "thresholds set"

              use _ = torch.no_grad ()
              use difference = (relu.forward images - clip.forward images).abs().max ()
              Expect.equal (difference.item<float32> ()) 0.0f "identical outputs"

              use unit = torch.randn (32L, 1L, 8L, 8L)
              use other = unit.mul (torch.tensor 3.0f)
              use changed = (relu.forward other - clip.forward other).abs().max ()
              Expect.isGreaterThan (changed.item<float32> ()) 0.0f "other, larger inputs are clipped"
          }

          test
              "in a pipeline: thresholds from the first training images, a bounded ReLU keeping its maximum, the clip ANN's accuracy recorded" {
              let folder = tempFolder "clip-from-relu"
              let file = fashionFile 8 (Some 0.8)
              let e = experiment folder file [ importAnn; withParameters 100.0 200 ]
              let outcome = run (Recorder()) e

              // The largest input of act2 over the first 200 training images, computed here.
              use data = new RunData(e.Data, None)
              use images = data.TrainingImages 200
              use relu = Import.Import.toNetwork (imported file).Model
              let mutable largest = Single.MinValue
              use _ = torch.no_grad ()

              Convert.forwardThroughActivations
                  relu
                  (fun l z ->
                      if l.Name = "act2" then
                          largest <- max largest (z.max().item<float32> ())

                      l.Module.forward z)
                  images
              |> ignore

              let clip = annRecords ClipAnn outcome.Records |> List.exactlyOne

              Expect.equal
                  (clip.Thresholds |> Array.map (fun t -> t.Layer, t.Threshold))
                  [| "act1", float 0.8f; "act2", float largest |]
                  "act1 keeps the model's Clip(0, 0.8); act2 at the 100th percentile = the largest value"

              Expect.isEmpty clip.History "nothing trained"
              Expect.isTrue (clip.TestAccuracy >= 0.0 && clip.TestAccuracy <= 100.0) "an accuracy"
              Expect.isTrue (clip.HeldOutAccuracy >= 0.0 && clip.HeldOutAccuracy <= 100.0) "a held-out accuracy"

              let statistics =
                  customRecords outcome.Records
                  |> List.find (fun (s, _) -> s = "clipFromRelu")
                  |> snd

              Expect.equal
                  [ for x in statistics.AsArray() -> x["source"].GetValue<string>() ]
                  [ "bounded_relu"; "percentile" ]
                  "where each threshold came from"

              Directory.Delete(folder, true)
              File.Delete file
          } ]
