module Snn.Dsl.Tests.Pipeline.RunDataTests

open System
open System.IO
open Expecto
open SkiaSharp
open TorchSharp
open Snn.Core.Data
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Pipeline.TestPipelines

/// An ImageNet-layout folder: `classes` class folders in train/ and val/, 32x32 PNGs of seeded colours.
let private imageFolder (name: string) (classes: int) (trainPerClass: int) (valPerClass: int) =
    let root = tempFolder name

    for split, perClass in [ "train", trainPerClass; "val", valPerClass ] do
        for k in 0 .. classes - 1 do
            let folder =
                Directory.CreateDirectory(Path.Combine(root, split, $"n{k:D8}")).FullName

            for i in 0 .. perClass - 1 do
                let random = Random(((if split = "train" then 0 else 1) * 1000 + k) * 1000 + i)
                use bitmap = new SKBitmap(32, 32, SKColorType.Rgba8888, SKAlphaType.Unpremul)

                for y in 0..31 do
                    for x in 0..31 do
                        bitmap.SetPixel(
                            x,
                            y,
                            SKColor(byte (random.Next 256), byte (random.Next 256), byte (random.Next 256))
                        )

                use png = bitmap.Encode(SKEncodedImageFormat.Png, 100)
                File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), png.ToArray())

    root

let private data (root: string) : Data =
    { Dataset = DatasetDescriptor.ImageNet.WithImageSize 32
      Path = Some root
      TrainImages = None
      TestImages = None
      HeldOut = Some 6
      EvalBatchSize = None }

/// Every batch's images and labels of one pass, copied.
let private pass (batches: EvalBatches) =
    [ for x, y in batches -> x.clone (), y.clone () ]

let private same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && a.allclose (b, 0.0, 0.0, false)

[<Tests>]
let tests =
    testList
        "RunData"
        [ test
              "a streamed dataset's evaluation batches are decoded anew on each pass, equal the in-memory ones, and are freed after each" {
              // Many training images and few test images, so a budget below the in-memory estimate still holds
              // the streamed loader's batches.
              let root = imageFolder "rundata-stream" 2 100 4
              let layout = (data root).Dataset.Inspect root
              let tight = DataMemoryBudget(layout.InMemoryBytes - 1L, "test")

              use inMemory =
                  new RunData(data root, None, torch.CPU, None, Some(DataMemoryBudget(1L <<< 30, "test")))

              use streamed = new RunData(data root, None, torch.CPU, None, Some tight)
              let notes = ResizeArray<string>()
              inMemory.Log <- notes.Add
              streamed.Log <- notes.Add
              Expect.isFalse inMemory.Splits.IsStreamed "held in memory"
              Expect.isEmpty notes "nothing said of data held in memory"
              Expect.isTrue streamed.Splits.IsStreamed "streamed"

              Expect.equal
                  (List.ofSeq notes)
                  [ $"data: images streamed from disk, a batch at a time: the dataset does not fit the data memory budget of {tight}" ]
                  "the run log says the data is streamed, and under which budget"

              let held = pass inMemory.SnnTestBatches
              let first = pass streamed.SnnTestBatches
              let second = pass streamed.SnnTestBatches
              Expect.equal streamed.SnnTestBatches.Count held.Length "Count is the batches of a pass"
              Expect.equal first.Length held.Length "as many batches"

              for (x, y), (sx, sy), (tx, ty) in List.zip3 held first second do
                  Expect.isTrue (same x sx && same y sy) "the streamed batch equals the in-memory one"
                  Expect.isTrue (same sx tx && same sy ty) "each pass decodes the same batch"

              let seen = [ for x, y in streamed.SnnTestBatches -> x, y ]

              Expect.all seen (fun (x, y) -> x.IsInvalid && y.IsInvalid) "a streamed pass frees its batches"

              let kept = [ for x, y in inMemory.SnnTestBatches -> x, y ]

              Expect.all kept (fun (x, y) -> not x.IsInvalid && not y.IsInvalid) "in memory, the batches stay"

              Expect.isTrue
                  (Seq.forall2 (fun (a, _) (b, _) -> obj.ReferenceEquals(a, b)) kept inMemory.SnnTestBatches)
                  "in memory, every pass hands out the same tensors"
          } ]
