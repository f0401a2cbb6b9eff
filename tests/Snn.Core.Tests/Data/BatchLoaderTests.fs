module Snn.Core.Tests.Data.BatchLoaderTests

open Expecto
open TorchSharp
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

/// Normalisation 1 channel with mean m, std s.
let private grey = Normalization([| 0.25f |], [| 0.5f |])

/// Every batch of one epoch as (raw pixels recovered from the normalised floats, labels) arrays, tensors disposed.
let private collect (loader: BatchLoader) (epoch: int) (norm: Normalization) =
    [ for images, labels in loader.Epoch epoch do
          use images = images
          use labels = labels

          let raw =
              images.data<float32>().ToArray()
              |> Array.mapi (fun i v ->
                  let c = (i / int (images.shape.[2] * images.shape.[3])) % int images.shape.[1]
                  int (System.Math.Round(float ((v * norm.Std.[c] + norm.Mean.[c]) * 255.0f))))

          yield images.shape, raw, labels.data<int64>().ToArray() ]

/// Dataset whose label is the image index (classes = n), so every output can be traced to its source.
let private indexed (seed: int) (n: int) (c: int) (h: int) (w: int) = synthetic seed n c h w n

[<Tests>]
let tests =
    testList
        "BatchLoader"
        [ testPropertyWithConfig config "the same seed and epoch give identical augmented batches"
          <| fun (seed: int) (epoch: uint16) ->
              use ds = indexed seed 20 1 5 5

              let make () =
                  BatchLoader(ds, 6, true, grey, Augmentation(2, true), seed)

              collect (make ()) (int epoch) grey = collect (make ()) (int epoch) grey

          testPropertyWithConfig config "each shuffled epoch visits every image exactly once"
          <| fun (seed: int) (epoch: uint16) ->
              use ds = indexed seed 23 1 2 2

              let batches =
                  collect (BatchLoader(ds, 5, true, grey, Augmentation.None, seed)) (int epoch) grey

              let labels = batches |> List.collect (fun (_, _, l) -> List.ofArray l)

              List.sort labels = [ 0L .. 22L ]
              && List.map (fun (s: int64[], _, _) -> s.[0]) batches = [ 5L; 5L; 5L; 5L; 3L ]

          testCase "consecutive epochs and different seeds give different orders"
          <| fun () ->
              use ds = indexed 1 64 1 2 2

              let order seed epoch =
                  collect (BatchLoader(ds, 64, true, grey, null, seed)) epoch grey
                  |> List.collect (fun (_, _, l) -> List.ofArray l)

              Expect.notEqual (order 0 0) (order 0 1) "epochs differ"
              Expect.notEqual (order 0 0) (order 1 0) "seeds differ"

          testPropertyWithConfig config "every augmented image is a zero-padded crop of its source, mirrored or not"
          <| fun (seed: int) (padRaw: byte) (flip: bool) ->
              let p = int padRaw % 4
              let c, h, w = 2, 4, 5
              use ds = indexed seed 9 c h w
              let norm = Normalization([| 0.1f; 0.6f |], [| 0.3f; 0.7f |])
              let source = bytesOf seed (9 * c * h * w)

              let reference (img: int64) dy dx mirrored =
                  [| for ch in 0 .. c - 1 do
                         for i in 0 .. h - 1 do
                             for j in 0 .. w - 1 do
                                 let y = dy + i - p
                                 let x = dx + (if mirrored then w - 1 - j else j) - p

                                 if y < 0 || y >= h || x < 0 || x >= w then
                                     0
                                 else
                                     int source.[((int img * c + ch) * h + y) * w + x] |]

              let ok =
                  [ for shape, raw, labels in
                        collect (BatchLoader(ds, 4, true, norm, Augmentation(p, flip), seed)) 0 norm do
                        for b in 0 .. labels.Length - 1 ->
                            let got = raw.[b * c * h * w .. (b + 1) * c * h * w - 1]

                            shape = [| int64 labels.Length; int64 c; int64 h; int64 w |]
                            && Seq.exists
                                (fun (dy, dx, m) -> reference labels.[b] dy dx m = got)
                                [ for dy in 0 .. 2 * p do
                                      for dx in 0 .. 2 * p do
                                          for m in (if flip then [ false; true ] else [ false ]) -> dy, dx, m ] ]

              List.forall id ok

          testCase "padding is raw pixel 0, so padded pixels normalise to -mean/std"
          <| fun () ->
              use ds =
                  new ImageDataset(
                      "white",
                      torch.full (32L, 1L, 4L, 4L, 255, dtype = torch.uint8),
                      torch.zeros (32L, dtype = torch.int64),
                      [ "a" ]
                  )

              let values =
                  [ for images, labels in BatchLoader(ds, 32, true, grey, Augmentation(2, false), 3).Epoch 0 do
                        use images = images
                        use labels = labels
                        yield! images.data<float32>().ToArray() ]
                  |> List.distinct
                  |> List.sort

              Expect.equal values [ (0.0f - 0.25f) / 0.5f; (1.0f - 0.25f) / 0.5f ] "only padding and white"

          testCase "a flip is a left-right mirror and both outcomes occur"
          <| fun () ->
              use ds = indexed 7 64 1 3 4
              use mirrored = ds.Images.flip (3L)
              let mutable flips, keeps = 0, 0

              for images, labels in
                  BatchLoader(ds, 16, true, Normalization([| 0f |], [| 1f |]), Augmentation(0, true), 11).Epoch 2 do
                  use images = images
                  use labels = labels
                  use k = torch.tensor 255.0f
                  use pixels = images.mul(k).round().to_type (torch.uint8)
                  use original = ds.Images.index_select (0L, labels)
                  use flipped = mirrored.index_select (0L, labels)

                  for b in 0L .. labels.shape.[0] - 1L do
                      use p = pixels.[b]
                      use o = original.[b]
                      use f = flipped.[b]

                      if same p o then
                          keeps <- keeps + 1
                      elif same p f then
                          flips <- flips + 1

              Expect.equal (flips + keeps) 64 "every image is the original or its mirror"
              Expect.isGreaterThan flips 0 "some flipped"
              Expect.isGreaterThan keeps 0 "some kept"

          testCase "evaluation batches are sequential and exactly (p / 255 - mean) / std"
          <| fun () ->
              use ds = synthetic 4 10 1 3 3 10
              let source = bytesOf 4 90

              let batches =
                  [ for images, labels in BatchLoader(ds, 4, false, grey).Epoch 0 do
                        use images = images
                        use labels = labels
                        yield images.data<float32>().ToArray(), labels.data<int64>().ToArray() ]

              let values = batches |> List.map fst |> Array.concat
              let expected = source |> Array.map (fun p -> (float32 p / 255.0f - 0.25f) / 0.5f)
              Expect.equal (List.map (snd >> Array.length) batches) [ 4; 4; 2 ] "batch sizes"

              Expect.equal
                  (batches |> List.collect (snd >> List.ofArray))
                  [ for i in 0..9 -> int64 (i % 10) ]
                  "in order"

              Expect.isTrue (Array.forall2 (fun a b -> abs (a - b) < 1e-5f) values expected) "normalised values"

          testCase "dropLast skips the partial batch"
          <| fun () ->
              use ds = synthetic 4 10 1 2 2 10
              let loader = BatchLoader(ds, 4, true, grey, dropLast = true)
              Expect.equal loader.BatchCount 2 "floor(10 / 4)"
              Expect.equal (collect loader 0 grey |> List.length) 2 "two batches"

          // Sequenced: the live count is process-wide, so no other test may create tensors meanwhile.
          testSequenced (
              testCase "live tensor count does not grow over many augmented batches"
              <| fun () ->
                  use ds = indexed 9 300 3 8 8

                  let loader =
                      BatchLoader(ds, 7, true, Normalization.Cifar10, Augmentation(4, true), 5)

                  let drain epoch =
                      for images, labels in loader.Epoch epoch do
                          images.Dispose()
                          labels.Dispose()

                  drain 0
                  // Collect first so that finalisers of tensors other code dropped cannot lower the count later.
                  System.GC.Collect()
                  System.GC.WaitForPendingFinalizers()
                  let before = torch.Tensor.TotalCount

                  for e in 1..20 do
                      drain e

                  Expect.isLessThanOrEqual
                      torch.Tensor.TotalCount
                      before
                      "no tensor left alive after 20 epochs of 43 batches"
          )

          testCase "a batch size of 0 and a channel mismatch are argument errors"
          <| fun () ->
              use ds = synthetic 4 10 1 2 2 10

              Expect.throwsC (fun () -> BatchLoader(ds, 0, true, grey) |> ignore) (fun e ->
                  Expect.stringContains e.Message "batch size = 0 is out of range: expected >= 1" "batch")

              Expect.throwsC (fun () -> BatchLoader(ds, 2, true, Normalization.Cifar10) |> ignore) (fun e ->
                  Expect.stringContains e.Message "expected 1" "channels")

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 20 }
              "a streamed dataset gives exactly the batches of the same images in memory, for any seed and epoch"
          <| fun (seed: int) (epoch: byte) (shuffle: bool) (batchRaw: byte) ->
              use tmp = new TempFolder()
              imageTree tmp.Path 3 [ "train", 5 ] 7 |> ignore
              let index = ImageFolderIndex.Build(tmp.File "train")
              use memory = ImageFolder.Read(index, 6)
              use streamed = ImageDataset.Stream(index, 6, DataMemoryBudget(1L <<< 30, "test"))
              let batch = 1 + int batchRaw % 6
              let aug = Augmentation(2, true)

              let run (d: ImageDataset) =
                  [ for images, labels in
                        BatchLoader(d, batch, shuffle, Normalization.ImageNet, aug, seed).Epoch(int epoch) do
                        use images = images
                        use labels = labels
                        yield images.data<float32>().ToArray(), labels.data<int64>().ToArray() ]

              run streamed = run memory

          testCase "a streamed loader decodes ahead only as many batches as the budget allows"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 2 [ "train", 4 ] 4 |> ignore
              let index = ImageFolderIndex.Build(tmp.File "train")
              let batchBytes = 2L * 3L * 8L * 8L

              let depth (bytes: int64) =
                  use d = ImageDataset.Stream(index, 8, DataMemoryBudget(bytes, "test"))
                  BatchLoader(d, 2, true, Normalization.ImageNet).PrefetchDepth, d.StreamingResidentBytes

              let _, resident = depth (1L <<< 30)
              let fixedCost = resident + int64 BatchLoader.WorkingBatches * batchBytes
              Expect.equal (fst (depth (1L <<< 30))) BatchLoader.MaxPrefetch "a large budget: the most"
              Expect.equal (fst (depth (fixedCost + 2L * batchBytes))) 2 "two batches fit"
              Expect.equal (fst (depth (fixedCost + batchBytes))) 1 "one batch fits"

              use d =
                  ImageDataset.Stream(index, 8, DataMemoryBudget(fixedCost + batchBytes - 1L, "SNN_DATA_MEMORY=tiny"))

              Expect.throwsC (fun () -> BatchLoader(d, 2, true, Normalization.ImageNet) |> ignore) (fun e ->
                  Expect.stringContains e.Message "cannot be streamed in batches of 2 images of 3x8x8" "what"
                  Expect.stringContains e.Message "(SNN_DATA_MEMORY=tiny)" "budget source"
                  Expect.stringContains e.Message "raise the budget" "how")

          testCase "a broken image in a streamed batch is named, the same one on every run"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 2 [ "train", 6 ] 4 |> ignore
              let index = ImageFolderIndex.Build(tmp.File "train")

              for i in [ 9; 3 ] do
                  System.IO.File.WriteAllBytes(index.Files.[i], [| 1uy; 2uy |])

              use d = ImageDataset.Stream(index, 4, DataMemoryBudget(1L <<< 30, "test"))

              for _ in 1..3 do
                  dataError
                      (fun () ->
                          for images, labels in BatchLoader(d, 12, false, Normalization.ImageNet).Epoch 0 do
                              images.Dispose()
                              labels.Dispose())
                      index.Files.[3]
                      [ "could not be decoded" ]

          // Sequenced: the live count is process-wide, so no other test may create tensors meanwhile.
          testSequenced (
              testCase "stopping a streamed epoch early frees the batches decoded ahead"
              <| fun () ->
                  use tmp = new TempFolder()
                  imageTree tmp.Path 2 [ "train", 10 ] 4 |> ignore

                  use d =
                      ImageDataset.Stream(ImageFolderIndex.Build(tmp.File "train"), 4, DataMemoryBudget(1L <<< 30, "t"))

                  let loader =
                      BatchLoader(d, 2, true, Normalization.ImageNet, Augmentation(1, true), 3)

                  let firstTwo () =
                      for images, labels in loader.Epoch 0 |> Seq.truncate 2 do
                          images.Dispose()
                          labels.Dispose()

                  firstTwo ()
                  System.GC.Collect()
                  System.GC.WaitForPendingFinalizers()
                  let before = torch.Tensor.TotalCount

                  for _ in 1..10 do
                      firstTwo ()

                  Expect.isLessThanOrEqual torch.Tensor.TotalCount before "no decoded batch left alive"
          ) ]
