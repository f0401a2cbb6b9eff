module Snn.Core.Tests.Data.ImageDatasetTests

open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private budget = DataMemoryBudget(1L <<< 30, "test")

[<Tests>]
let tests =
    testList
        "ImageDataset"
        [ testCase "a streamed split reads, by index, exactly the pixels the in-memory reader decodes"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 3 [ "train", 4 ] 6 |> ignore
              let index = ImageFolderIndex.Build(tmp.File "train")
              use memory = ImageFolder.Read(index, 5)
              use streamed = ImageDataset.Stream(index, 5, budget)
              Expect.isTrue streamed.IsStreamed "streamed"
              Expect.isFalse memory.IsStreamed "in memory"
              Expect.equal (streamed.Count, streamed.ImageShape, streamed.Classes) (12, [| 3L; 5L; 5L |], 3) "shape"
              Expect.isTrue (same streamed.Labels memory.Labels) "labels"
              let picks = [| 11L; 0L; 5L; 5L; 7L |]
              use a = streamed.ReadImages(System.ReadOnlySpan picks)
              use b = memory.ReadImages(System.ReadOnlySpan picks)
              Expect.isTrue (same a b) "pixels of the picked images, repeats included"

          testCase "a streamed subset reads its range by index without reading the rest"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 2 [ "train", 5 ] 4 |> ignore
              let index = ImageFolderIndex.Build(tmp.File "train")
              use memory = ImageFolder.Read(index, 4)
              use streamed = ImageDataset.Stream(index, 4, budget)
              use sub = streamed.Subset(6, 3)
              Expect.isTrue sub.IsStreamed "still streamed"
              // Corrupt an image outside the subset: the subset never decodes it.
              System.IO.File.WriteAllBytes(index.Files.[0], [| 0uy |])
              use got = sub.ReadImages(System.ReadOnlySpan [| 0L; 1L; 2L |])
              use want = memory.Images.narrow (0L, 6L, 3L)
              Expect.isTrue (same got want) "range [6, 9)"
              Expect.isTrue (same sub.Labels (memory.Labels.narrow (0L, 6L, 3L))) "labels"

          testCase "the pixels of a streamed dataset are not held: Images names the dataset and what to use"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 1 [ "train", 1 ] 3 |> ignore

              use streamed =
                  ImageDataset.Stream(ImageFolderIndex.Build(tmp.File "train"), 3, budget)

              Expect.throwsC (fun () -> streamed.Images |> ignore) (fun e ->
                  Expect.stringContains e.Message "imagefolder/train is streamed from" "names it"
                  Expect.stringContains e.Message "read them with ReadImages or a BatchLoader" "what to use")

          testCase "an index outside the dataset is an argument error"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 1 [ "train", 2 ] 3 |> ignore

              use streamed =
                  ImageDataset.Stream(ImageFolderIndex.Build(tmp.File "train"), 3, budget)

              Expect.throwsC (fun () -> streamed.ReadImages(System.ReadOnlySpan [| 2L |]) |> ignore) (fun e ->
                  Expect.stringContains e.Message "indices[0] = 2 is out of range: expected [0, 1]" "message") ]
