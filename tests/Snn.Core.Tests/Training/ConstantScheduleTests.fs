module Snn.Core.Tests.Training.ConstantScheduleTests

open Expecto
open FsCheck
open Snn.Core.Training
open Snn.Core.Tests

[<Tests>]
let tests =
    testList
        "ConstantSchedule"
        [ testProperty "the rate is lr0 at every step, including a resumed run's first step"
          <| fun (NonNegativeInt step) ->
              let schedule = ConstantSchedule 0.003
              schedule.RateAt(int64 step) = 0.003 && schedule.RateAt 0L = 0.003

          testCase "bad settings are refused, naming the argument and the range"
          <| fun () ->
              ArgumentChecks.argumentError "InitialRate" [ "-0.1"; "> 0" ] (fun () ->
                  (ConstantSchedule -0.1).RateAt 0L |> ignore)

              ArgumentChecks.argumentError "InitialRate" [ "NaN" ] (fun () ->
                  (ConstantSchedule nan).RateAt 0L |> ignore)

              ArgumentChecks.argumentError "step" [ "-1"; ">= 0" ] (fun () ->
                  (ConstantSchedule 0.1).RateAt -1L |> ignore) ]
