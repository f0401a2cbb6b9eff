module Snn.Core.Tests.Data.DataMemoryBudgetTests

open System
open Expecto
open Snn.Core.Data

[<Tests>]
let tests =
    testList
        "DataMemoryBudget"
        [ testCase "sizes parse as bytes with K, M, G, T suffixes in powers of 1024"
          <| fun () ->
              for text, bytes in
                  [ "1048576", 1048576L
                    "512M", 512L <<< 20
                    "512mb", 512L <<< 20
                    "16G", 16L <<< 30
                    "16GiB", 16L <<< 30
                    "1.5G", 3L <<< 29
                    " 2T ", 2L <<< 40
                    "10k", 10240L ] do
                  Expect.equal (DataMemoryBudget.ParseBytes(text, "x")) bytes text

          testCase "a size that is not one names the argument and the accepted form"
          <| fun () ->
              for text in [ ""; "lots"; "0"; "-5G"; "G"; "NaN"; "1e30T" ] do
                  Expect.throwsC (fun () -> DataMemoryBudget.ParseBytes(text, "SNN_DATA_MEMORY") |> ignore) (fun e ->
                      Expect.stringContains e.Message $"SNN_DATA_MEMORY = {text} is not a memory size" text
                      Expect.stringContains e.Message "K, M, G or T suffix" text)

          testCase "SNN_DATA_MEMORY sets the budget; without it the budget is half the memory available"
          <| fun () ->
              let set = DataMemoryBudget.FromEnvironment("8G", 100L)
              Expect.equal (set.Bytes, set.Source) (8L <<< 30, "SNN_DATA_MEMORY=8G") "set"
              let unset = DataMemoryBudget.FromEnvironment(null, 8L <<< 30)
              Expect.equal unset.Bytes (4L <<< 30) "half"
              Expect.stringContains unset.Source "half of the 8.00 GB" "source"

          testCase "byte counts print in powers of 1024"
          <| fun () ->
              Expect.equal
                  ([ 0L; 1023L; 1536L; 55L <<< 20; 3L <<< 30 ] |> List.map DataMemoryBudget.Format)
                  [ "0 B"; "1023 B"; "1.5 KB"; "55.0 MB"; "3.00 GB" ]
                  "formats"

          testCase "Check refuses an estimate above the budget and suggests a size in G"
          <| fun () ->
              let layout = DatasetLayout("/data/x", 1000000, 0, 3, 64, 64, [ "a" ])
              let budget = DataMemoryBudget(1L <<< 30, "test budget")

              Expect.throwsC (fun () -> budget.Check(DatasetDescriptor.ImageNet, layout)) (fun e ->
                  Expect.stringContains e.Message "/data/x: imagenet would need about 11.45 GB" "estimate"
                  Expect.stringContains e.Message "budget of 1.00 GB (test budget)" "budget"
                  Expect.stringContains e.Message "SNN_DATA_MEMORY=12G" "suggestion")

              DataMemoryBudget(layout.InMemoryBytes, "exact").Check(DatasetDescriptor.ImageNet, layout) ]
