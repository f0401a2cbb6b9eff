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
              && List.forall ok [ 0 .. c - 1 ] ]
