module Snn.Dsl.Tests.NetworkTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl

let private errorsOf spec =
    match Network.validate spec with
    | Ok _ -> failtest $"expected errors for %A{spec}"
    | Error es -> es

let private problemsOf spec =
    errorsOf spec |> List.map (fun e -> e.Index, e.Problem)

[<Tests>]
let tests =
    testList
        "Network"
        [ test "fmnistVgg infers 28 -> 14 -> 7 -> 3 and ends in 10 classes" {
              let info =
                  Network.validate Presets.fmnistVgg
                  |> Result.defaultWith (fun es -> failtest $"%A{es}")

              let pools =
                  info.Layers
                  |> List.filter (fun l -> l.Layer.KindName = "avgPool")
                  |> List.map _.OutputShape

              Expect.equal pools [ Image(32, 14, 14); Image(64, 7, 7); Image(128, 3, 3) ] "pool outputs"

              let flat = info.Layers |> List.find (fun l -> l.Layer = Flatten)
              Expect.equal flat.OutputShape (Vector 1152) "flatten gives 128 * 3 * 3"
              Expect.equal info.OutputShape (Vector 10) "output"
              Expect.equal info.Layers.Length Presets.fmnistVgg.Layers.Length "one info per layer"
              Expect.hasLength info.Notes 1 "the 7 -> 3 pooling is noted (it drops a row and a column)"
          }

          test "one spec with twelve problems reports all of them, in layer order, with readable messages" {
              let identityDown =
                  Residual
                      { OutChannels = 32
                        Stride = 2
                        Shortcut = Identity
                        BatchNorm = true }

              let spec =
                  input (1, 28, 28)
                  --> act // 0: activation after the input
                  --> convFrom 3 16 // 1: declares 3 in-channels, gets 1
                  --> bn
                  --> act
                  --> maxPool 2
                  --> bn // 5: bn after a pooling cannot be folded
                  --> dropout 1.5 // 6: p out of range
                  --> identityDown // 7: identity shortcut across 16x14x14 -> 32x7x7
                  --> linear 100 // 8: flatten missing
                  --> linearFrom 50 10 // 9: declares 50 in-features, gets 100
                  --> conv 8 // 10: conv on a vector
                  --> act
                  --> avgPool 0 // 12: kernel 0
                  --> act // 13: activation after a pooling, and the output is not a linear

              let problems = problemsOf spec

              Expect.equal
                  problems
                  [ Some 0, ActivationNotAfterWeightedLayer "the input"
                    Some 1, InChannelsMismatch(3, 1)
                    Some 5, BatchNormNotAfterWeightedLayer "maxPool"
                    Some 6, DropoutOutOfRange 1.5
                    Some 7, ResidualShapeMismatch(Image(16, 14, 14), Image(32, 7, 7))
                    Some 8, FlattenMissing(Image(32, 7, 7))
                    Some 9, InFeaturesMismatch(50, 100)
                    Some 10, ExpectedImage(Vector 10)
                    Some 12, NonPositive("kernel", 0)
                    Some 12, NonPositive("stride", 0)
                    Some 13, ActivationNotAfterWeightedLayer "avgPool"
                    Some 13, OutputNotLinear "act" ]
                  "every problem, in order"

              let messages = errorsOf spec |> List.map _.Message

              for expected in
                  [ "layer 1 (conv 16 (3x3, stride 1, pad 1)): in-channels: expected 3 (declared), got 1 (inferred)"
                    "layer 6 (dropout 1.5): dropout p = 1.5 is out of range: expected a probability in [0, 1)"
                    "layer 8 (linear 100): expected a vector, got a feature map 32x7x7: insert flatten before linear"
                    "layer 9 (linear 10): in-features: expected 50 (declared), got 100 (inferred)"
                    "layer 12 (avgPool 0 (stride 0, pad 0)): kernel = 0 is out of range: expected > 0" ] do
                  Expect.contains messages expected "message"
          }

          test "a kernel larger than the padded input is rejected with both sizes" {
              let problems =
                  problemsOf (input (1, 4, 4) --> convWith 8 7 1 1 true --> flatten --> linear 2)

              Expect.equal problems [ Some 0, KernelLargerThanInput(7, 6, 6) ] "kernel 7 on 6x6"
          }

          test "a dilated, grouped conv infers its output from the dilated extent and counts in / groups weights" {
              // 3x3 dilation 2 = extent 5; 12x12 pad 1 stride 2 -> (12 + 2 - 5) / 2 + 1 = 5.
              let spec =
                  input (6, 12, 12) --> convFull 9 3 2 1 2 3 true --> act --> flatten --> linear 2

              match Network.validate spec with
              | Ok info ->
                  Expect.equal info.Layers[0].OutputShape (Image(9, 5, 5)) "output"
                  Expect.equal info.Layers[0].Parameters (9L * 2L * 9L + 9L) "9 x (6 / 3) x 3 x 3 + bias"
              | Error es -> failtest $"%A{es |> List.map _.Message}"

              let tooWide =
                  input (1, 4, 4) --> convFull 2 3 1 0 2 1 true --> act --> flatten --> linear 2

              Expect.equal (problemsOf tooWide) [ Some 0, KernelLargerThanInput(5, 4, 4) ] "dilated extent 5 on 4x4"
          }

          test "groups that do not divide the channels, and zero dilation or groups, are reported" {
              let spec =
                  input (4, 8, 8)
                  --> convFull 6 3 1 1 1 4 true
                  --> convFull 6 3 1 1 0 1 true
                  --> convFull 6 3 1 1 1 0 true
                  --> flatten
                  --> linear 2

              Expect.equal
                  (problemsOf spec)
                  [ Some 0, GroupsDoNotDivide(4, 4, 6)
                    Some 1, NonPositive("dilation", 0)
                    Some 2, NonPositive("groups", 0) ]
                  "all three"

              let message = (Network.messages (Network.validate spec))[0]
              Expect.stringContains message "groups = 4 must divide both in-channels (4) and out-channels (6)" "message"
          }

          test "zero and negative sizes are all reported, the input's too" {
              let problems =
                  problemsOf (input (0, 28, -1) --> convWith -4 3 0 -1 true --> flatten --> linear 0)

              Expect.equal
                  problems
                  [ None, NonPositive("input channels", 0)
                    None, NonPositive("input width", -1)
                    Some 0, NonPositive("out-channels", -4)
                    Some 0, NonPositive("stride", 0)
                    Some 0, NegativePadding -1
                    Some 2, NonPositive("out-features", 0) ]
                  "sizes"
          }

          test "pool padding above half the window and an empty network are rejected" {
              Expect.equal
                  (problemsOf (input (1, 8, 8) --> maxPoolWith 2 2 2 --> flatten --> linear 2))
                  [ Some 0, PaddingTooLarge(2, 2) ]
                  "padding 2 on a 2x2 window"

              Expect.equal (problemsOf (input (1, 8, 8))) [ None, EmptyNetwork ] "no layers"
          }

          test "batch norm after flatten and linear is a valid BatchNorm1d" {
              let info =
                  input (2, 4, 4) --> flatten --> linear 6 --> bn --> act --> linear 3
                  |> Network.validate
                  |> Result.defaultWith (fun es -> failtest $"%A{es}")

              Expect.equal (info.Layers[2].Parameters) 12L "gamma and beta for 6 features"
          }

          test "a residual block counts its body, and a projection only where the shape changes" {
              let count layers =
                  match Network.validate (network (Image(16, 8, 8)) (layers @ [ flatten; linear 1 ])) with
                  | Ok info -> info.Layers.Head.Parameters
                  | Error es -> failtest $"%A{es}"

              // body: 2 convs 16*16*9 + 2 BN * 32 = 4672
              Expect.equal (count [ residual 16 1 ]) 4672L "identity shortcut"
              // body 16->32: 16*32*9 + 32*32*9 + 2 * 64 = 13952; projection 16*32 + 64 = 576
              Expect.equal (count [ residual 32 2 ]) (13952L + 576L) "projection shortcut"
          }

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 200 }
              "every invalid dropout inserted after an activation of fmnistVgg is reported at its own index"
          <| fun (picks: bool list) ->
              // Insert a dropout with p = 1 after the k-th activation when picks[k] is true.
              let layers, inserted =
                  Presets.fmnistVgg.Layers
                  |> List.fold
                      (fun (acc, idx, k) layer ->
                          let acc = acc @ [ layer ]

                          if layer = Act && (List.tryItem k picks |> Option.defaultValue false) then
                              acc @ [ dropout 1.0 ], idx @ [ acc.Length ], k + 1
                          elif layer = Act then
                              acc, idx, k + 1
                          else
                              acc, idx, k)
                      ([], [], 0)
                  |> fun (acc, idx, _) -> acc, idx

              let result =
                  Network.validate
                      { Presets.fmnistVgg with
                          Layers = layers }

              match inserted, result with
              | [], Ok _ -> true
              | _, Error es ->
                  (es |> List.map (fun e -> e.Index, e.Problem)) = (inserted
                                                                    |> List.map (fun i -> Some i, DropoutOutOfRange 1.0))
              | _ -> false ]
