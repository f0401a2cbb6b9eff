module Snn.Dsl.Tests.PresetsTests

open Expecto
open TorchSharp
open Snn.Dsl

/// Parameter counts computed by hand (weights + biases + BN gamma and beta; no running stats).
let private expectedParameters =
    [ // convs (with bias) 320 + 9,248 + 18,496 + 36,928 + 73,856; BN 64 + 64 + 128 + 128 + 256;
      // fc 1152*256 + 256 = 295,168 and 256*10 + 10 = 2,570
      FmnistVgg, 437_226L
      // conv weights 9 * (3*64 + 64*64 + 64*128 + 128*128 + 128*256 + 2*256*256 + 256*512
      // + 5*512*512) = 14,710,464; conv biases 4,224 and BN 8,448 (2 per channel);
      // fc 512*4096 + 4096 = 2,101,248, 4096*4096 + 4096 = 16,781,312, 4096*10 + 10 = 40,970
      Vgg16 10, 33_646_666L
      Vgg16 100, 33_646_666L - 40_970L + 409_700L
      // stem 432 + 32; stage 1: 3 * (2 * 2,304 + 64) = 14,016; stage 2: 4,608 + 9,216 + 128
      // + projection 512 + 64, then 2 * (18,432 + 128); stage 3: 18,432 + 36,864 + 256
      // + projection 2,048 + 128, then 2 * (73,728 + 256); fc 650
      ResNet20 10, 272_474L
      ResNet20 100, 272_474L - 650L + 6_500L
      // torchvision's resnet18 / resnet34
      ResNet18(ImageNet MaxStemPool, 1000), 11_689_512L
      ResNet18(ImageNet AvgStemPool, 1000), 11_689_512L
      ResNet34(ImageNet MaxStemPool, 1000), 21_797_672L
      // CIFAR: a 3x3 stem instead of 7x7 (1,728 instead of 9,408 weights) and a 10-class fc
      // (5,130 instead of 513,000): 11,689,512 - 7,680 - 507,870
      ResNet18(Cifar, 10), 11_173_962L
      ResNet34(Cifar, 10), 21_282_122L ]

let private classes preset =
    match preset with
    | FmnistVgg -> 10
    | Vgg16 c
    | ResNet20 c
    | ResNet18(_, c)
    | ResNet34(_, c) -> c

let private inputShape (spec: NetworkSpec) =
    match spec.Input with
    | Image(c, h, w) -> [| 1L; int64 c; int64 h; int64 w |]
    | Vector n -> [| 1L; int64 n |]

let private compiled preset =
    match Compile.compile Relu (Presets.spec preset) with
    | Ok n -> n
    | Error es -> failtest $"%A{es}"

[<Tests>]
let tests =
    testList
        "Presets"
        [ for preset, count in expectedParameters do
              test $"%A{preset} infers a %d{classes preset}-class output and %d{count} parameters" {
                  match Network.validate (Presets.spec preset) with
                  | Ok info ->
                      Expect.equal info.OutputShape (Vector(classes preset)) "output shape"
                      Expect.equal info.Parameters count "parameters from the spec"
                  | Error es -> failtest $"%A{es}"
              }

          for preset, count in expectedParameters do
              match preset with
              | ResNet18(ImageNet _, _)
              | ResNet34(ImageNet _, _) ->
                  test $"compiled %A{preset} holds %d{count} parameters" {
                      use net = compiled preset
                      Expect.equal (Compile.parameterCount net) count "parameters of the module"
                  }
              | _ ->
                  test $"compiled %A{preset} holds %d{count} parameters and maps a batch of 2 to [2, classes]" {
                      use net = compiled preset
                      Expect.equal (Compile.parameterCount net) count "parameters of the module"
                      net.eval ()
                      use scope = torch.NewDisposeScope()
                      let shape = inputShape net.Spec
                      shape[0] <- 2L
                      let y = net.forward (torch.randn shape)
                      Expect.equal y.shape [| 2L; int64 (classes preset) |] "output shape"
                  }

          test
              "fmnistVgg is BENCHMARKS.md's table: five 3x3 pad-1 convs 32, 32, 64, 64, 128, three avgpool2, fc 1152-256-10" {
              let layers = Presets.fmnistVgg.Layers

              let convs =
                  layers
                  |> List.choose (function
                      | Conv c -> Some(c.OutChannels, c.Kernel, c.Stride, c.Padding)
                      | _ -> None)

              Expect.equal convs [ for c in [ 32; 32; 64; 64; 128 ] -> c, 3, 1, 1 ] "convs"
              Expect.equal (layers |> List.filter ((=) (avgPool 2)) |> List.length) 3 "average pools"
              Expect.equal (layers |> List.filter ((=) bn) |> List.length) 5 "one BN per conv"
              Expect.equal (List.last layers) (linear 10) "output"
              Expect.contains layers (linearFrom 1152 256) "hidden linear declares 1152 inputs"
          }

          test "the ImageNet ResNet stems differ only in the pooling used for conversion" {
              let maxStem = Presets.resnet18 (ImageNet MaxStemPool) 1000
              let avgStem = Presets.resnet18 (ImageNet AvgStemPool) 1000
              Expect.equal maxStem.Layers[3] (maxPoolWith 3 2 1) "standard definition"
              Expect.equal avgStem.Layers[3] (avgPoolWith 3 2 1) "convertible variant"
              Expect.equal maxStem.Layers[4..] avgStem.Layers[4..] "same body"
          }

          testList
              "slow"
              [ test "ImageNet ResNet-18 maps one 224x224 image to 1000 logits" {
                    use net = compiled (ResNet18(ImageNet AvgStemPool, 1000))
                    net.eval ()
                    use scope = torch.NewDisposeScope()
                    let y = net.forward (torch.randn ([| 1L; 3L; 224L; 224L |]))
                    Expect.equal y.shape [| 1L; 1000L |] "output shape"
                } ] ]
