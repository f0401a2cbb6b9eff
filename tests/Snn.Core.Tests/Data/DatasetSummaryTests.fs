module Snn.Core.Tests.Data.DatasetSummaryTests

open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private tolerance = 1e-9

[<Tests>]
let tests =
    testList
        "DatasetSummary"
        [ testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 1000 }
              "summary mean and std equal the per-channel population statistics of p / 255"
          <| fun (seed: int) ->
              let r = System.Random(seed)
              let n, c = 1 + r.Next 5000, 1 + r.Next 3
              use ds = synthetic seed n c 2 3 7
              let s = DatasetSummary.Of ds
              let pixels = bytesOf seed (n * c * 6)

              let channel k =
                  [| for i in 0 .. n - 1 do
                         for p in 0..5 -> float pixels.[(i * c + k) * 6 + p] / 255.0 |]

              let ok k =
                  let xs = channel k
                  let m = Array.average xs
                  let sd = sqrt (Array.averageBy (fun x -> (x - m) ** 2.0) xs)
                  abs (s.PixelMean.[k] - m) < tolerance && abs (s.PixelStd.[k] - sd) < 1e-7

              s.Count = n
              && Array.sum s.ClassCounts = int64 n
              && s.ClassCounts.Length = 7
              && List.forall ok [ 0 .. c - 1 ]

          testCase "a streamed split has the summary of the same images in memory"
          <| fun () ->
              use tmp = new TempFolder()
              imageTree tmp.Path 3 [ "train", 4 ] 5 |> ignore
              let index = ImageFolderIndex.Build(tmp.File "train")
              use memory = ImageFolder.Read(index, 5)
              use streamed = ImageDataset.Stream(index, 5, DataMemoryBudget(1L <<< 30, "t"))
              let a, b = DatasetSummary.Of memory, DatasetSummary.Of streamed
              // The same chunks of images are summed in the same order, so the statistics are equal, not just close.
              let fields (s: SplitSummary) =
                  s.Count,
                  List.ofArray s.Shape,
                  List.ofArray s.ClassCounts,
                  List.ofArray s.PixelMean,
                  List.ofArray s.PixelStd

              Expect.equal (fields b) (fields a) "summary" ]
