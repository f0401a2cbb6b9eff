module Snn.Core.Tests.Data.DataSplitsTests

open System.IO
open Expecto
open TorchSharp
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

[<Tests>]
let tests =
    testList
        "DataSplits"
        [ testPropertyWithConfig config "train is the first N - h training images and held-out the last h"
          <| fun (nRaw: uint16) (hRaw: uint16) ->
              let n = 1 + int nRaw % 200
              let h = int hRaw % n

              use splits =
                  DataSplits.FromDatasets(DatasetKind.Mnist, "mem", synthetic n n 1 2 2 10, synthetic 1 3 1 2 2 10, h)

              use trainPixels = splits.FullTrain.Images.narrow (0, 0, int64 (n - h))
              use heldPixels = splits.FullTrain.Images.narrow (0, int64 (n - h), int64 h)

              splits.Train.Count = n - h
              && splits.HeldOut.Count = h
              && splits.Test.Count = 3
              && same splits.Train.Images trainPixels
              && same splits.HeldOut.Images heldPixels

          testCase "the benchmark split of 60,000 images is 55,000 + 5,000"
          <| fun () ->
              use full =
                  new ImageDataset(
                      "big",
                      torch.zeros (60000L, 1L, 1L, 1L, dtype = torch.uint8),
                      torch.zeros (60000L, dtype = torch.int64),
                      [ "a" ]
                  )

              use splits =
                  DataSplits.FromDatasets(DatasetKind.FashionMnist, "mem", full, synthetic 0 10 1 1 1 1, 5000)

              Expect.equal
                  (splits.Train.Count, splits.HeldOut.Count, splits.FullTrain.Count)
                  (55000, 5000, 60000)
                  "sizes"

          testCase "a held-out count of N is an argument error naming the range"
          <| fun () ->
              Expect.throwsC
                  (fun () ->
                      DataSplits.FromDatasets(
                          DatasetKind.Mnist,
                          "mem",
                          synthetic 0 10 1 2 2 10,
                          synthetic 1 3 1 2 2 10,
                          10
                      )
                      |> ignore)
                  (fun e -> Expect.stringContains e.Message "heldOut = 10 is out of range: expected [0, 9]" "message")

          testCase "a test set of another image shape is refused"
          <| fun () ->
              Expect.throwsC
                  (fun () ->
                      DataSplits.FromDatasets(
                          DatasetKind.Mnist,
                          "mem",
                          synthetic 0 10 1 2 2 10,
                          synthetic 1 3 1 3 3 10,
                          1
                      )
                      |> ignore)
                  (fun e -> Expect.stringContains e.Message "expected [1, 2, 2]" "message")

          testCase "Load reads a gzipped IDX folder given explicitly and splits it"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 30 8 4 4
              use splits = DataSplits.Load(DatasetKind.FashionMnist, tmp.Path, 6)
              Expect.equal (splits.Train.Count, splits.HeldOut.Count, splits.Test.Count) (24, 6, 8) "sizes"

          testCase "Load reads an image-folder tree with train and val splits"
          <| fun () ->
              use tmp = new TempFolder()

              for split in [ "train"; "val" ] do
                  for cls in [ "a"; "b" ] do
                      let d = Directory.CreateDirectory(Path.Combine(tmp.Path, split, cls)).FullName

                      for i in 0..2 do
                          writeImage (Path.Combine(d, $"{i}.png")) 5 5 SkiaSharp.SKEncodedImageFormat.Png (fun x y ->
                              SkiaSharp.SKColor(byte (x * 40), byte (y * 40), 7uy))

              use splits = DataSplits.Load(DatasetKind.ImageFolder, tmp.Path, 2, 4)
              Expect.equal (splits.Train.Count, splits.HeldOut.Count, splits.Test.Count) (4, 2, 6) "sizes"
              Expect.equal splits.Test.Images.shape [| 6L; 3L; 4L; 4L |] "shape"

          testCase "the real Fashion-MNIST has 60,000 training and 10,000 test images, 6,000 and 1,000 per class"
          <| fun () ->
              // setup.sh installs dataset-fashion-mnist; this test fails when it is absent.
              use splits =
                  DataSplits.Load(DatasetKind.FashionMnist, DatasetLocator.DebianFashionMnistFolder)

              Expect.equal splits.FullTrain.Count 60000 "training images"
              Expect.equal splits.Test.Count 10000 "test images"
              Expect.equal (splits.Train.Count, splits.HeldOut.Count) (55000, 5000) "benchmark split"
              Expect.equal (splits.FullTrain.ClassCounts()) (Array.create 10 6000L) "6,000 per class"
              Expect.equal (splits.Test.ClassCounts()) (Array.create 10 1000L) "1,000 per class"
              Expect.equal splits.FullTrain.Images.shape [| 60000L; 1L; 28L; 28L |] "28x28 greyscale" ]
