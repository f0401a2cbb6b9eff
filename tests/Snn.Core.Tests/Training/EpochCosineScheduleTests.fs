module Snn.Core.Tests.Training.EpochCosineScheduleTests

open System
open Expecto
open FsCheck
open Snn.Core.Training
open Snn.Core.Tests

[<Tests>]
let tests =
    testList
        "EpochCosineSchedule"
        [ testCase "known values: PyTorch's CosineAnnealingLR(T_max = 4) stepped per epoch"
          <| fun () ->
              let schedule = EpochCosineSchedule(0.1, 4, 3L)
              // Epochs 0..3 run at lr0 (1 + cos(pi e / 4)) / 2; steps 0-2 are epoch 0, 3-5 epoch 1, ...
              let perEpoch = [ 0.1; 0.05 * (1.0 + sqrt 0.5); 0.05; 0.05 * (1.0 - sqrt 0.5) ]

              for s in 0..11 do
                  Expect.floatClose Accuracy.veryHigh (schedule.RateAt(int64 s)) perEpoch.[s / 3] $"lr({s})"

              Expect.equal (schedule.RateAt 12L) (schedule.RateAt 11L) "past the end: the last epoch's rate"
              Expect.equal (schedule.RateAt Int64.MaxValue) (schedule.RateAt 11L) "far past the end"

          testProperty "constant within an epoch, non-increasing, in (0, lr0], lr0 in the first epoch"
          <| fun (PositiveInt epochs) (PositiveInt batches) ->
              let epochs, batches = 1 + epochs % 50, 1 + batches % 20
              let schedule = EpochCosineSchedule(0.01, epochs, int64 batches)
              let rates = [ for s in 0L .. int64 (epochs * batches - 1) -> schedule.RateAt s ]

              rates |> List.pairwise |> List.forall (fun (a, b) -> b <= a)
              && rates |> List.forall (fun r -> r > 0.0 && r <= 0.01)
              && rates |> List.take batches |> List.forall ((=) 0.01)
              && rates
                 |> List.chunkBySize batches
                 |> List.forall (fun c -> List.distinct c |> List.length = 1)

          testCase "bad settings are refused, naming the argument and the range"
          <| fun () ->
              ArgumentChecks.argumentError "InitialRate" [ "0"; "> 0" ] (fun () ->
                  EpochCosineSchedule(0.0, 4, 3L).RateAt 0L |> ignore)

              ArgumentChecks.argumentError "Epochs" [ "0"; ">= 1" ] (fun () ->
                  EpochCosineSchedule(0.1, 0, 3L).RateAt 0L |> ignore)

              ArgumentChecks.argumentError "StepsPerEpoch" [ "0"; ">= 1" ] (fun () ->
                  EpochCosineSchedule(0.1, 4, 0L).RateAt 0L |> ignore)

              ArgumentChecks.argumentError "step" [ "-1"; ">= 0" ] (fun () ->
                  EpochCosineSchedule(0.1, 4, 3L).RateAt -1L |> ignore) ]
