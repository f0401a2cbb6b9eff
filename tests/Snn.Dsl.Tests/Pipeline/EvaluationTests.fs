module Snn.Dsl.Tests.Pipeline.EvaluationTests

open Expecto
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Pipeline.TestPipelines

/// The predicted class of every image of `images` by a separate simulation at T.
let private predictions (snn: Snn.Core.Simulation.SpikingNetwork) (t: int) (images: torch.Tensor) =
    use result = snn.Run(images, t)
    result.Output.argmax(1L).data<int64>().ToArray()

/// Labels for batches of `size` images: the class `predict` gives on the images whose index (over
/// all batches) is in `right`, another class on the others.
let private labelsRightOn (right: int[]) (size: int) (predict: torch.Tensor -> int64[]) (images: torch.Tensor list) =
    images
    |> List.mapi (fun b x ->
        predict x
        |> Array.mapi (fun i p ->
            if Array.contains (size * b + i) right then
                p
            else
                (p + 1L) % 10L)
        |> torch.tensor)

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Evaluation"
        [ test "per-image results of one simulation read out at every T equal separate runs at each T, image by image" {
              use scope = torch.NewDisposeScope()
              torch.manual_seed 11L |> ignore

              use net =
                  match Compile.compile (QC(2, 1.0)) smallSpec with
                  | Ok n -> n
                  | Error es -> failwithf "%A" es

              net.eval ()

              use snn =
                  match Convert.toSpiking ConversionOptions.Default net with
                  | Ok s -> s
                  | Error es -> failwithf "%A" es

              let images = [ for _ in 1..3 -> torch.rand (7L, 1L, 28L, 28L) * 3.0f ]
              // Labels: the T = 4 prediction on the images of `right` (no pattern a reordering keeps),
              // another class on the others.
              let right = [| 0; 1; 5; 8; 9; 10; 14; 20 |]

              let labels = labelsRightOn right 7 (predictions snn 4) images

              let batches = List.zip images labels
              let task = (SilentProgress() :> IProgressSink).Start("test", 3)

              let evaluated =
                  Evaluation.evaluateSnnAt snn [ 1; 4 ] batches None task |> Map.ofList

              for t in [ 1; 4 ] do
                  let separate =
                      List.zip images labels
                      |> List.collect (fun (x, y) ->
                          Array.map2 (=) (predictions snn t x) (y.data<int64>().ToArray()) |> List.ofArray)
                      |> Array.ofList

                  let e = evaluated[t]
                  Expect.equal e.PerImageCorrect separate $"T = {t}: image by image"

                  Expect.equal
                      e.Accuracy
                      (100.0 * float (separate |> Array.filter id |> Array.length) / 21.0)
                      $"T = {t}: the accuracy counts the same images"

              Expect.equal
                  evaluated[4].PerImageCorrect
                  (Array.init 21 (fun i -> Array.contains i right))
                  "the labels' pattern at T = 4"
          }

          test "an ANN's test figures: its accuracy as annAccuracy measures it and which images it got right" {
              use scope = torch.NewDisposeScope()
              torch.manual_seed 12L |> ignore

              use net =
                  match Compile.compile (Clip 1.0) smallSpec with
                  | Ok n -> n
                  | Error es -> failwithf "%A" es

              let images = [ for _ in 1..2 -> torch.rand (5L, 1L, 28L, 28L) ]
              net.eval ()

              let predicted (x: torch.Tensor) =
                  use _ = torch.no_grad ()
                  net.forward(x).argmax(1L).data<int64>().ToArray()

              // Images 0, 3, 4, 6 and 9 labelled with the prediction, the others with another class.
              let right = [| 0; 3; 4; 6; 9 |]

              let batches = List.zip images (labelsRightOn right 5 predicted images)

              let t = Evaluation.annTest net batches
              Expect.equal t.Count 10 "every image"

              Expect.equal
                  (PerImage.decode 10 t.Hits)
                  (Ok(Array.init 10 (fun i -> Array.contains i right)))
                  "image by image"

              Expect.equal t.Percent 50.0 "5 of 10"
              Expect.equal t.Percent (Evaluation.annAccuracy net batches) "as annAccuracy"
          } ]
