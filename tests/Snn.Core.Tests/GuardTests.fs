module Snn.Core.Tests.GuardTests

open Expecto
open TorchSharp
open Snn.Core
open Snn.Core.Tests.ArgumentChecks

[<Tests>]
let tests =
    testList
        "Guard"
        [ testCase "valid values pass through unchanged"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              Expect.equal (Guard.Positive(2.5, "theta")) 2.5 "positive"
              Expect.equal (Guard.AtLeast(3L, 1L, "T", "time steps T")) 3L "at least"
              Expect.equal (Guard.UnitIntervalOpen(0.0, "p")) 0.0 "p = 0 is valid"
              Expect.equal (Guard.NonNegative(0.0, "n")) 0.0 "0 is non-negative"
              Expect.equal (Guard.Finite(-3.0, "v")) -3.0 "finite"
              Expect.equal (Guard.MultipleOf(6L, 3L, "c", "channels")) 6L "multiple"
              Guard.Positive(torch.tensor [| 0.1; 2.0 |], "theta")
              Guard.NonNegative(torch.tensor [| 0.0; 2.0 |], "counts")
              Guard.Broadcastable(torch.ones (1L, 3L), [| 2L; 3L |], "theta")
              Guard.SameShape(torch.ones (2L, 3L), [| 2L; 3L |], "r")
              Guard.Rank(torch.ones (2L, 3L), 2, "x", "[B, N]")

          testCase "each guard names the parameter, the value and the valid range"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              argumentError "theta" [ "theta = 0"; "> 0" ] (fun () -> Guard.Positive(0.0, "theta") |> ignore)
              argumentError "theta" [ "Infinity"; "finite" ] (fun () -> Guard.Positive(infinity, "theta") |> ignore)
              argumentError "theta" [ "NaN"; "> 0" ] (fun () -> Guard.Positive(nan, "theta") |> ignore)

              argumentError "T" [ "time steps T = 0"; ">= 1" ] (fun () ->
                  Guard.AtLeast(0L, 1L, "T", "time steps T") |> ignore)

              argumentError "p" [ "p = 1"; "[0, 1)" ] (fun () -> Guard.UnitIntervalOpen(1.0, "p") |> ignore)
              argumentError "p" [ "p = -0.5"; "[0, 1)" ] (fun () -> Guard.UnitIntervalOpen(-0.5, "p") |> ignore)
              argumentError "n" [ "n = -1"; ">= 0" ] (fun () -> Guard.NonNegative(-1.0, "n") |> ignore)
              argumentError "v" [ "NaN"; "finite" ] (fun () -> Guard.Finite(nan, "v") |> ignore)

              argumentError "c" [ "channels = 7"; "multiple of 3" ] (fun () ->
                  Guard.MultipleOf(7L, 3L, "c", "channels") |> ignore)

              argumentError "theta" [ "-2"; "> 0" ] (fun () -> Guard.Positive(torch.tensor [| 1.0; -2.0 |], "theta"))

              argumentError "theta" [ "Infinity"; "finite" ] (fun () ->
                  Guard.Positive(torch.tensor [| 1.0; infinity |], "theta"))

              argumentError "theta" [ "empty" ] (fun () -> Guard.Positive(torch.zeros 0L, "theta"))

              argumentError "counts" [ "-1"; ">= 0" ] (fun () ->
                  Guard.NonNegative(torch.tensor [| 1.0; -1.0 |], "counts"))

              argumentError "theta" [ "[2, 2]"; "[2, 3]" ] (fun () ->
                  Guard.Broadcastable(torch.ones (2L, 2L), [| 2L; 3L |], "theta"))

              argumentError "r" [ "[3, 2]"; "[2, 3]" ] (fun () ->
                  Guard.SameShape(torch.ones (3L, 2L), [| 2L; 3L |], "r"))

              argumentError "x" [ "[3]"; "[B, N]" ] (fun () -> Guard.Rank(torch.ones 3L, 2, "x", "[B, N]")) ]
