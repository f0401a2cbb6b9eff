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
                  DataSplits.FromDatasets(
                      DatasetDescriptor.Mnist,
                      "mem",
                      synthetic n n 1 2 2 10,
                      synthetic 1 3 1 2 2 10,
                      h
                  )

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
                      [ "c0" ]
                  )

              use splits =
                  DataSplits.FromDatasets(DatasetDescriptor.FashionMnist, "mem", full, synthetic 0 10 1 1 1 1, 5000)

              Expect.equal
                  (splits.Train.Count, splits.HeldOut.Count, splits.FullTrain.Count)
                  (55000, 5000, 60000)
                  "sizes"

          testCase "a held-out count of N is an argument error naming the range"
          <| fun () ->
              Expect.throwsC
                  (fun () ->
                      DataSplits.FromDatasets(
                          DatasetDescriptor.Mnist,
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
                          DatasetDescriptor.Mnist,
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
              use splits = DataSplits.Load(DatasetDescriptor.FashionMnist, tmp.Path, 6)
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

              use splits =
                  DataSplits.Load(DatasetDescriptor.ImageNet.WithImageSize 4, tmp.Path, 2)

              Expect.equal (splits.Train.Count, splits.HeldOut.Count, splits.Test.Count) (4, 2, 6) "sizes"
              Expect.equal splits.Test.Images.shape [| 6L; 3L; 4L; 4L |] "shape"

          testCase "the real Fashion-MNIST has 60,000 training and 10,000 test images, 6,000 and 1,000 per class"
          <| fun () ->
              // setup.sh installs dataset-fashion-mnist; this test fails when it is absent.
              use splits =
                  DataSplits.Load(DatasetDescriptor.FashionMnist, DatasetLocator.DebianFashionMnistFolder)

              Expect.isTrue splits.HeldOutIsDefault "no held-out count given"
              Expect.equal splits.FullTrain.Count 60000 "training images"
              Expect.equal splits.Test.Count 10000 "test images"
              Expect.equal (splits.Train.Count, splits.HeldOut.Count) (55000, 5000) "benchmark split"
              Expect.equal (splits.FullTrain.ClassCounts()) (Array.create 10 6000L) "6,000 per class"
              Expect.equal (splits.Test.ClassCounts()) (Array.create 10 1000L) "1,000 per class"
              Expect.equal splits.FullTrain.Images.shape [| 60000L; 1L; 28L; 28L |] "28x28 greyscale"

          testCase "the default held-out count is min(5000, N / 12): 5,000 of 60,000 and 666 of 7,996"
          <| fun () ->
              Expect.equal (DataSplits.DefaultHeldOut 60000) 5000 "60,000"
              Expect.equal (DataSplits.DefaultHeldOut 7996) 666 "7,996"
              Expect.equal (DataSplits.DefaultHeldOut 11) 0 "fewer than 12 images hold out none"

          testProperty "the default held-out count never exceeds a twelfth of the set nor 5,000"
          <| fun (n: uint32) ->
              let n = int (n % 2000000u)
              let h = DataSplits.DefaultHeldOut n
              h = min 5000 (n / 12) && h >= 0 && (n = 0 || h < n)

          testCase "without a held-out count the splits use the default and say so"
          <| fun () ->
              use splits =
                  DataSplits.FromDatasets(
                      DatasetDescriptor.Mnist,
                      "mem",
                      synthetic 0 7996 1 1 1 10,
                      synthetic 1 3 1 1 1 10
                  )

              Expect.equal (splits.Train.Count, splits.HeldOut.Count) (7330, 666) "7,996 = 7,330 + 666"
              Expect.isTrue splits.HeldOutIsDefault "default used"

              use given =
                  DataSplits.FromDatasets(
                      DatasetDescriptor.Mnist,
                      "mem",
                      synthetic 0 100 1 1 1 10,
                      synthetic 1 3 1 1 1 10,
                      8
                  )

              Expect.isFalse given.HeldOutIsDefault "count given"

          testCase "the splits expose the channels, image shape and class count a network must match"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 24 4 5 3
              use splits = DataSplits.Load(DatasetDescriptor.Mnist, tmp.Path)
              Expect.equal (splits.Channels, splits.Classes) (1, 10) "channels and classes"
              Expect.equal splits.ImageShape [| 1; 5; 3 |] "shape"
              Expect.equal splits.Dataset DatasetDescriptor.Mnist "dataset"
              Expect.equal (splits.HeldOut.Count) 2 "24 / 12"

          testCase
              "a dataset larger than the memory budget is refused before reading, naming the budget and how to raise it"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 30 8 4 4
              let budget = DataMemoryBudget(900L, "SNN_DATA_MEMORY=900")

              dataError
                  (fun () -> DataSplits.Load(DatasetDescriptor.FashionMnist, tmp.Path, 6, budget))
                  tmp.Path
                  [ "would need about 950 B"
                    "30 training + 8 test images of 1x4x4"
                    "more than the data memory budget of 900 B (SNN_DATA_MEMORY=900)"
                    "raise the budget with the environment variable SNN_DATA_MEMORY" ]

              use fits =
                  DataSplits.Load(DatasetDescriptor.FashionMnist, tmp.Path, 6, DataMemoryBudget(38L * 25L, "test"))

              Expect.equal fits.FullTrain.Count 30 "an estimate equal to the budget is read"

          testCase "a held-out count of N is refused from the headers, before any image is read"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 10 2 2 2
              // A broken pixel payload would fail reading; the range check must come first.
              write tmp.Path "train-images-idx3-ubyte" false (idxImages Idx.ImagesMagic 10 2 2 [| 1uy |])
              |> ignore

              Expect.throwsC (fun () -> DataSplits.Load(DatasetDescriptor.Mnist, tmp.Path, 10) |> ignore) (fun e ->
                  Expect.stringContains e.Message "heldOut = 10 is out of range: expected [0, 9]" "message")

          testCase "an image folder whose val classes are named differently is refused, listing the differences"
          <| fun () ->
              use tmp = new TempFolder()

              for split, classes in [ "train", [ "a"; "b" ]; "val", [ "a"; "c" ] ] do
                  for cls in classes do
                      let d = Directory.CreateDirectory(Path.Combine(tmp.Path, split, cls)).FullName

                      writeImage (Path.Combine(d, "0.png")) 3 3 SkiaSharp.SKEncodedImageFormat.Png (fun _ _ ->
                          SkiaSharp.SKColors.Red)

              dataError
                  (fun () -> DataSplits.Load(DatasetDescriptor.ImageNet.WithImageSize 3, tmp.Path, 1))
                  (Path.Combine(tmp.Path, "val"))
                  [ "Only in train: b"; "only in val: c" ]

          testCase "a test set with other class names is refused"
          <| fun () ->
              use test =
                  new ImageDataset(
                      "t",
                      torch.zeros (2L, 1L, 2L, 2L, dtype = torch.uint8),
                      torch.zeros (2L, dtype = torch.int64),
                      [ "x"; "y" ]
                  )

              Expect.throwsC
                  (fun () ->
                      DataSplits.FromDatasets(DatasetDescriptor.Mnist, "mem", synthetic 0 10 1 2 2 2, test, 1)
                      |> ignore)
                  (fun e -> Expect.stringContains e.Message "the 2 classes of the training set" "message")

          testCase "the legacy DatasetKind overload reads the same splits as the descriptor"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 30 8 4 4
              use a = DataSplits.Load(DatasetKind.FashionMnist, tmp.Path)
              use b = DataSplits.Load(DatasetDescriptor.FashionMnist, tmp.Path)

              Expect.isTrue
                  (same a.FullTrain.Images b.FullTrain.Images && same a.Test.Labels b.Test.Labels)
                  "same tensors"

              Expect.equal
                  (a.HeldOut.Count, string a.Kind)
                  (b.HeldOut.Count, "fashion-mnist")
                  "same split, name printed"

              Expect.throwsC (fun () -> DataSplits.Load(DatasetKind.FashionMnist, tmp.Path, 2, 32) |> ignore) (fun e ->
                  Expect.stringContains e.Message "does not apply to fashion-mnist" "image size not ignored")

          testCase "an image folder above the budget is streamed automatically and gives the in-memory batches"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 4 [ "train", 6; "val", 2 ] 5 |> ignore
              let dataset = DatasetDescriptor.ImageNet.WithImageSize 40
              let layout = dataset.Inspect tmp.Path

              use memory =
                  DataSplits.Load(dataset, tmp.Path, 4, DataMemoryBudget(layout.InMemoryBytes, "fits"))
              // One byte below the in-memory estimate (154 KB): streamed, with room for batches of 2 and the indexes.
              use streamed =
                  DataSplits.Load(dataset, tmp.Path, 4, DataMemoryBudget(layout.InMemoryBytes - 1L, "small"))

              Expect.isFalse memory.IsStreamed "in memory when it fits"
              Expect.isTrue (streamed.IsStreamed && streamed.Train.IsStreamed && streamed.HeldOut.IsStreamed) "streamed"
              Expect.equal (streamed.Train.Count, streamed.HeldOut.Count, streamed.Test.Count) (20, 4, 8) "same split"
              Expect.isGreaterThan streamed.StreamingResidentBytes 0L "indexes held"

              let batches (d: ImageDataset) =
                  [ for x, y in BatchLoader(d, 2, true, dataset.Normalization, dataset.TrainingAugmentation, 5).Epoch 1 do
                        use x = x
                        use y = y
                        yield x.data<float32>().ToArray(), y.data<int64>().ToArray() ]

              Expect.equal (batches streamed.Train) (batches memory.Train) "training batches"
              Expect.equal (batches streamed.HeldOut) (batches memory.HeldOut) "held-out batches"

              dataError
                  (fun () ->
                      DataSplits.Load(
                          DatasetDescriptor.Mnist,
                          (writeIdxFolder tmp.Path false 5 5 2 2
                           tmp.Path),
                          1,
                          DataMemoryBudget(10L, "tiny")
                      ))
                  tmp.Path
                  [ "would need about"; "budget of 10 B (tiny)" ]

          testCase "a budget too small even for the file indexes is refused, naming the budget"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 2 [ "train", 3; "val", 1 ] 4 |> ignore

              dataError
                  (fun () ->
                      DataSplits.Load(
                          DatasetDescriptor.ImageNet.WithImageSize 4,
                          tmp.Path,
                          1,
                          DataMemoryBudget(200L, "SNN_DATA_MEMORY=200")
                      ))
                  tmp.Path
                  [ "cannot be streamed within the data memory budget of 200 B (SNN_DATA_MEMORY=200)"
                    "indexes and labels" ] ]
