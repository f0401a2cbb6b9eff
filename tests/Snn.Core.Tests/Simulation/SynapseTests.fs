module Snn.Core.Tests.Simulation.SynapseTests

open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Energy
open Snn.Core.Simulation
open Snn.Core.Tests.Generators

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 300 }

[<Tests>]
let tests =
    testList
        "Synapse"
        [ testPropertyWithConfig
              config
              "a convolution synapse counts the SOPs of OperationCount, with or without a pool before it"
          <| Prop.forAll convCases (fun c ->
              // Synapses have no groups: grouped cases are OperationCount's alone.
              c.Groups > 1
              || (use scope = torch.NewDisposeScope()
                  let counts = c.CountsTensor()

                  use synapse =
                      Synapse.Conv2d(
                          torch.randn ([| int64 c.OutChannels; int64 c.InChannels; int64 c.Kernel; int64 c.Kernel |]),
                          null,
                          int64 c.Stride,
                          int64 c.Padding,
                          int64 c.Pool
                      )

                  let expected =
                      if c.Pool > 1 then
                          OperationCount.PooledConvSops(
                              counts,
                              int64 c.Pool,
                              int64 c.OutChannels,
                              int64 c.Kernel,
                              int64 c.Stride,
                              int64 c.Padding
                          )
                      else
                          OperationCount.ConvSops(
                              counts,
                              int64 c.OutChannels,
                              int64 c.Kernel,
                              int64 c.Stride,
                              int64 c.Padding
                          )

                  synapse.ConnectionCount counts = expected))

          testPropertyWithConfig config "a linear synapse counts spikes x out features, as OperationCount does"
          <| Prop.forAll linearCases (fun c ->
              use scope = torch.NewDisposeScope()
              let counts = tensorOf [| int64 c.Batch; int64 c.InFeatures |] c.Counts

              use synapse =
                  Synapse.Linear(torch.randn ([| int64 c.OutFeatures; int64 c.InFeatures |]), null)

              synapse.ConnectionCount counts = OperationCount.LinearSops(counts, int64 c.OutFeatures))

          testCase "the connection count of an all-ones input is the MAC count of one dense pass, without padded taps"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              use unpadded = Synapse.Conv2d(torch.randn ([| 6L; 3L; 3L; 3L |]), null, 2L, 0L)
              let macs = OperationCount.ConvMacs(3L, 6L, 9L, 7L, 3L, 2L, 0L)
              Expect.equal (unpadded.ConnectionCount(torch.ones (1L, 3L, 9L, 7L))) (float macs) "no padding: ConvMacs"
              // With padding 1, ConvMacs also counts the 900 products with padded zeros (3240 in all).
              use padded = Synapse.Conv2d(torch.randn ([| 6L; 3L; 3L; 3L |]), null, 2L, 1L)
              let all = OperationCount.ConvMacs(3L, 6L, 9L, 7L, 3L, 2L, 1L)
              Expect.equal (padded.ConnectionCount(torch.ones (1L, 3L, 9L, 7L))) (float all - 900.0) "padding 1" ]
