module Snn.Dsl.Tests.ChannelPaddingTests

open Expecto
open Snn.Dsl

[<Tests>]
let tests =
    testList
        "ChannelPadding"
        [ test "fmnist-vgg, VGG-16 and the tests' 16-channel networks get no warning" {
              Expect.isEmpty (ChannelPadding.warnings Presets.fmnistVgg) "fmnist-vgg"
              Expect.isEmpty (ChannelPadding.warnings (Presets.vgg16 10)) "VGG-16"
              Expect.isEmpty (ChannelPadding.warnings Snn.Dsl.Tests.Pipeline.TestPipelines.smallSpecBn) "smallSpecBn"
          }

          test "each conv or residual block whose output channels are not a multiple of 16 is named once" {
              let spec =
                  network (Image(1, 28, 28)) [ conv 4; act; conv 32; act; conv 24; act; avgPool 2; flatten; linear 10 ]

              match ChannelPadding.warnings spec with
              | [ first; third ] ->
                  Expect.stringStarts first "layer 1 (conv) has 4 output channels, not a multiple of 16" first
                  Expect.stringStarts third "layer 5 (conv) has 24 output channels" third
                  Expect.stringContains first "README, Troubleshooting" "says where to read more"
              | other -> failwith $"expected two warnings, got %A{other}"
          } ]
