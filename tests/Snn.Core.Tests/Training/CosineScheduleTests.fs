module Snn.Core.Tests.Training.CosineScheduleTests

open System
open Expecto
open FsCheck
open Snn.Core.Training
open Snn.Core.Tests

[<Tests>]
let tests =
    testList
        "CosineSchedule"
        [ testCase "known values: lr0 at the start, lr0 / 2 half way, 0 at the end"
          <| fun () ->
              let schedule = CosineSchedule(0.1, 4L)
              let rates = [ for s in 0L .. 4L -> schedule.RateAt s ]
              // lr0 (1 + cos(pi s / 4)) / 2 with cos(pi / 4) = sqrt(2) / 2.
              let expected = [ 0.1; 0.05 * (1.0 + sqrt 0.5); 0.05; 0.05 * (1.0 - sqrt 0.5); 0.0 ]

              for s in 0..4 do
                  Expect.floatClose Accuracy.veryHigh rates.[s] expected.[s] $"lr({s})"

          testCase "steps past the end stay at 0 (clamped to S)"
          <| fun () ->
              let schedule = CosineSchedule(0.1, 10L)
              Expect.equal (schedule.RateAt 11L) (schedule.RateAt 10L) "clamped"
              Expect.equal (schedule.RateAt Int64.MaxValue) (schedule.RateAt 10L) "far past the end"

          testProperty "the rate falls monotonically from lr0 to 0 and stays in [0, lr0]"
          <| fun (PositiveInt total) ->
              let schedule = CosineSchedule(0.01, int64 total)
              let rates = [ for s in 0L .. int64 total -> schedule.RateAt s ]

              rates |> List.pairwise |> List.forall (fun (a, b) -> b <= a)
              && rates |> List.forall (fun r -> r >= 0.0 && r <= 0.01)
              && rates.Head = 0.01

          testProperty "a resumed run continues with exactly the rates of an uninterrupted one"
          <| fun (PositiveInt total) (NonNegativeInt stop) ->
              let total = int64 total
              let stop = int64 stop % (total + 1L)
              let uninterrupted = [ for s in 0L .. total -> CosineSchedule(0.05, total).RateAt s ]
              // A new schedule object, as a restarted process builds it, from the step where the run stopped.
              let resumed = [ for s in stop..total -> CosineSchedule(0.05, total).RateAt s ]
              resumed = List.skip (int stop) uninterrupted

          testCase "bad settings are refused, naming the field and the range"
          <| fun () ->
              ArgumentChecks.argumentError "InitialRate" [ "0"; "> 0" ] (fun () ->
                  CosineSchedule(0.0, 4L).RateAt 0L |> ignore)

              ArgumentChecks.argumentError "InitialRate" [ "finite" ] (fun () ->
                  CosineSchedule(Double.PositiveInfinity, 4L).RateAt 0L |> ignore)

              ArgumentChecks.argumentError "step" [ "-1"; ">= 0" ] (fun () ->
                  CosineSchedule(0.1, 4L).RateAt -1L |> ignore)

              ArgumentChecks.argumentError "TotalSteps" [ "0"; ">= 1" ] (fun () ->
                  CosineSchedule(0.1, 0L).RateAt 0L |> ignore) ]
