/// Small random spiking networks shared by the simulation and calibration tests. The `...From` forms draw
/// from a given generator (a test that depends on the draws passes its own seeded generator, so tests running
/// in parallel cannot change its draws); the plain forms draw from torch's process-wide generator and serve
/// tests whose assertions hold for any weights.
module Snn.Core.Tests.Simulation.TestNetworks

open TorchSharp
open Snn.Core.Simulation

/// A generator of its own for a test: the same seed gives the same draws, whatever runs in parallel.
let generator (seed: int64) = new torch.Generator(uint64 seed)

/// The integer 1 held for the process: the alpha of the additions below. An implicit Scalar would be
/// collectable while libtorch reads it (see Snn.Core's Native/Scalars.cs).
let private one = (1).ToScalar()

/// a + b without a temporary Scalar.
let plus (a: torch.Tensor) (b: torch.Tensor) = a.add (b, one)

/// Input shape of the small convolutional test network.
let inputShape = [| 2L; 8L; 8L |]

/// Number of classes of the test networks.
let classes = 5L

let private rand (g: torch.Generator) (dtype: torch.ScalarType) (shape: int64[]) (scale: float) =
    torch.randn (shape, dtype = dtype, generator = g)
    * torch.tensor (scale, dtype = dtype)

/// conv(2->4, pad 1) IF (per-channel theta) -> residual block (conv 4->4 IF, conv 4->4 + identity, IF)
/// -> residual block with a 1x1 projection shortcut (4->6) -> avgpool 2, flatten, linear(96 -> 5).
/// Weights are random, scaled so that layers fire at moderate rates.
let residualNetworkFrom (g: torch.Generator) (dtype: torch.ScalarType) =
    use scope = torch.NewDisposeScope()
    let r = rand g dtype

    let theta1 =
        plus (torch.rand ([| 4L; 1L; 1L |], dtype = dtype, generator = g)) (torch.tensor (0.5, dtype = dtype))

    let scalarTheta (x: float) = torch.tensor (x, dtype = dtype)

    SpikingNetworkBuilder(inputShape, dtype)
        .Layer("conv1", Synapse.Conv2d(r [| 4L; 2L; 3L; 3L |] 0.5, r [| 4L |] 0.2, padding = 1L), theta1)
        .ResidualBlock(
            "block1",
            Synapse.Conv2d(r [| 4L; 4L; 3L; 3L |] 0.4, r [| 4L |] 0.1, padding = 1L),
            scalarTheta 1.0,
            Synapse.Conv2d(r [| 4L; 4L; 3L; 3L |] 0.3, r [| 4L |] 0.1, padding = 1L),
            null,
            scalarTheta 1.2
        )
        .ResidualBlock(
            "block2",
            Synapse.Conv2d(r [| 6L; 4L; 3L; 3L |] 0.4, r [| 6L |] 0.1, padding = 1L),
            scalarTheta 0.9,
            Synapse.Conv2d(r [| 6L; 6L; 3L; 3L |] 0.3, r [| 6L |] 0.1, padding = 1L),
            Synapse.Conv2d(r [| 6L; 4L; 1L; 1L |] 0.5, null),
            scalarTheta 1.1
        )
        .Output(
            "fc",
            Synapse.Linear(r [| classes; 96L |] 0.3, r [| classes |] 0.1, flattenBefore = true, poolBefore = 2L)
        )
        .Build()

/// The residual network with weights from torch's process-wide generator.
let residualNetwork dtype = residualNetworkFrom null dtype

/// A batch of random images for the test networks, values around 0.5 +- 1.
let imagesFrom (g: torch.Generator) (dtype: torch.ScalarType) (batch: int64) =
    plus
        (torch.randn (Array.append [| batch |] inputShape, dtype = dtype, generator = g))
        (torch.tensor (0.5, dtype = dtype))

/// Images from torch's process-wide generator.
let images dtype batch = imagesFrom null dtype batch

/// conv(2->4, pad 1) IF -> avgpool 2 folded into conv(4->6, pad 1) IF -> avgpool 2 folded into
/// flatten, linear(24 -> 5): spiking layers that pool between them, as in VGG (the simulator
/// fuses that pooling into the first layer's scan).
let pooledNetworkFrom (g: torch.Generator) (dtype: torch.ScalarType) =
    use scope = torch.NewDisposeScope()
    let r = rand g dtype

    SpikingNetworkBuilder(inputShape, dtype)
        .Layer(
            "conv1",
            Synapse.Conv2d(r [| 4L; 2L; 3L; 3L |] 0.5, r [| 4L |] 0.2, padding = 1L),
            torch.tensor (0.8, dtype = dtype)
        )
        .Layer(
            "conv2",
            Synapse.Conv2d(r [| 6L; 4L; 3L; 3L |] 0.6, r [| 6L |] 0.1, padding = 1L, poolBefore = 2L),
            torch.tensor (0.7, dtype = dtype)
        )
        .Output(
            "fc",
            Synapse.Linear(r [| classes; 24L |] 0.3, r [| classes |] 0.1, flattenBefore = true, poolBefore = 2L)
        )
        .Build()

/// The pooled network with weights from torch's process-wide generator.
let pooledNetwork dtype = pooledNetworkFrom null dtype

/// conv(2->4, pad 1) IF -> ResNet-34's stem pooling (average 3x3, stride 2, padding 1: overlapping
/// and padded, so no scan can write it) folded into a residual block's conv(4->4, pad 1) IF and its
/// identity shortcut (Synapse.PooledIdentity) -> flatten, linear(64 -> 5).
let stemPooledNetworkFrom (g: torch.Generator) (dtype: torch.ScalarType) =
    use scope = torch.NewDisposeScope()
    let r = rand g dtype

    let stem (w: torch.Tensor) =
        Synapse.Conv2d(w, r [| 4L |] 0.1, padding = 1L, poolBefore = 3L, poolStride = 2L, poolPadding = 1L)

    SpikingNetworkBuilder(inputShape, dtype)
        .Layer(
            "conv1",
            Synapse.Conv2d(r [| 4L; 2L; 3L; 3L |] 0.5, r [| 4L |] 0.2, padding = 1L),
            torch.tensor (0.8, dtype = dtype)
        )
        .ResidualBlock(
            "block1",
            stem (r [| 4L; 4L; 3L; 3L |] 0.5),
            torch.tensor (0.7, dtype = dtype),
            Synapse.Conv2d(r [| 4L; 4L; 3L; 3L |] 0.3, r [| 4L |] 0.1, padding = 1L),
            Synapse.PooledIdentity(4L, 3L, 2L, 1L, dtype, torch.CPU),
            torch.tensor (0.9, dtype = dtype)
        )
        .Output("fc", Synapse.Linear(r [| classes; 64L |] 0.3, r [| classes |] 0.1, flattenBefore = true))
        .Build()

/// The stem-pooled network with weights from torch's process-wide generator.
let stemPooledNetwork dtype = stemPooledNetworkFrom null dtype
