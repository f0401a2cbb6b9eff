module Snn.Core.Tests.Native.TorchThreadsTests

open System
open System.Threading
open Expecto
open TorchSharp
open Snn.Core.Native

[<Tests>]
let tests =
    testList
        "TorchThreads"
        [ testCase "on Linux the kernels' loop finds the OpenMP team libtorch uses"
          <| fun () ->
              torch.get_num_threads () |> ignore

              if OperatingSystem.IsLinux() then
                  Expect.isTrue TorchThreads.UsesTorchTeam "GOMP_parallel found through libtorch_cpu's dependencies"

          testCase "every work item runs exactly once, on at most the workers torch uses"
          <| fun () ->
              for count in [ 0; 1; 2; 3; 97; 1000 ] do
                  let hits = Array.zeroCreate<int> count
                  let threads = Collections.Concurrent.ConcurrentDictionary<int, bool>()

                  TorchThreads.For(
                      count,
                      fun i ->
                          Interlocked.Increment(&hits[i]) |> ignore
                          threads[Environment.CurrentManagedThreadId] <- true
                  )

                  Expect.all hits (fun h -> h = 1) $"count {count}: each item once"
                  Expect.isLessThanOrEqual threads.Count (max 1 TorchThreads.Workers) $"count {count}: threads used"

          testCase "an exception in a work item reaches the caller and stops the hand-out"
          <| fun () ->
              let ran = ref 0

              Expect.throwsT<InvalidOperationException>
                  (fun () ->
                      TorchThreads.For(
                          100000,
                          fun i ->
                              Interlocked.Increment(&ran.contents) |> ignore

                              if i = 3 then
                                  raise (InvalidOperationException "item 3 failed")
                      ))
                  "rethrown"

              Expect.isLessThan ran.Value 100000 "items after the failure are not handed out"

          testCase "the loop can be called from several threads at once"
          <| fun () ->
              let totals =
                  Array.Parallel.init 4 (fun _ ->
                      let sums = Array.zeroCreate<int64> 500
                      TorchThreads.For(500, fun i -> sums[i] <- int64 i)
                      Array.sum sums)

              Expect.all totals (fun t -> t = 124750L) "each caller sees all its items" ]
