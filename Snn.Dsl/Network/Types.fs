/// Networks as plain data: a spec is an input shape and an ordered list of layers. Shape
/// inference (Inference.fs) and validation (Validation.fs) run on the data alone and report every
/// error at once, before any tensor exists; Compile.fs turns a valid spec into TorchSharp modules.
namespace Snn.Dsl

/// The shape of one sample (no batch dimension).
type Shape =
    /// A feature map: channels x height x width.
    | Image of channels: int * height: int * width: int
    /// A flat feature vector.
    | Vector of features: int

    override this.ToString() =
        match this with
        | Image(c, h, w) -> $"%d{c}x%d{h}x%d{w}"
        | Vector n -> $"%d{n}"

/// A 2-d convolution (square kernel, equal stride, padding and dilation on both axes). In-channels
/// come from the input shape; `InChannels = Some c` declares them as well so that validation
/// checks the declaration against the inferred shape. `Dilation` d spaces the kernel taps d apart
/// (effective window d * (k - 1) + 1; 1 = dense); `Groups` g splits the channels into g
/// independent convolutions (in- and out-channels divisible by g; 1 = an ordinary conv).
type Conv =
    { OutChannels: int
      Kernel: int
      Stride: int
      Padding: int
      Dilation: int
      Groups: int
      Bias: bool
      InChannels: int option }

/// A 2-d pooling window (average pooling counts zero padding, as PyTorch does by default).
type Pool =
    { Kernel: int
      Stride: int
      Padding: int }

/// A fully connected layer; `InFeatures = Some n` declares the expected input size.
type Linear =
    { OutFeatures: int
      Bias: bool
      InFeatures: int option }

/// The shortcut path of a residual block.
type Shortcut =
    /// Identity when the shape is unchanged, else a projection (1x1 conv, stride s, then BN).
    | Auto
    /// x itself: requires the block to keep channels and resolution.
    | Identity
    /// 1x1 conv with the block's stride (then BN when the block has batch norm), always.
    | Projection

/// A basic residual block (ResNet-18/34/20): conv3x3(stride s)-BN-A-conv3x3-BN, plus the
/// shortcut, then A. Convolutions have no bias when the block has batch norm and a bias when
/// it does not (the form batch-norm folding produces).
type Residual =
    { OutChannels: int
      Stride: int
      Shortcut: Shortcut
      BatchNorm: bool }

/// One layer of a network spec.
type Layer =
    | Conv of Conv
    /// Batch norm over channels (image) or features (vector); must follow a conv or linear.
    | BatchNorm
    /// The stage's activation (ReLU, clip, QC or, after conversion, an IF neuron).
    | Act
    | AvgPool of Pool
    | MaxPool of Pool
    /// Average over the whole feature map: C x H x W -> C x 1 x 1.
    | GlobalAvgPool
    | Flatten
    | Linear of Linear
    | Dropout of p: float
    | Residual of Residual

    /// A short name of the layer kind, used in messages.
    member this.KindName =
        match this with
        | Conv _ -> "conv"
        | BatchNorm -> "bn"
        | Act -> "act"
        | AvgPool _ -> "avgPool"
        | MaxPool _ -> "maxPool"
        | GlobalAvgPool -> "globalAvgPool"
        | Flatten -> "flatten"
        | Linear _ -> "linear"
        | Dropout _ -> "dropout"
        | Residual _ -> "residual"

    /// The layer as it reads in a table, e.g. "conv 32 (3x3, stride 1, pad 1)".
    member this.Description =
        match this with
        | Conv c ->
            let dilation = if c.Dilation = 1 then "" else $", dilation %d{c.Dilation}"

            let groups = if c.Groups = 1 then "" else $", groups %d{c.Groups}"

            $"conv %d{c.OutChannels} (%d{c.Kernel}x%d{c.Kernel}, stride %d{c.Stride}, pad %d{c.Padding}%s{dilation}%s{groups})"
        | AvgPool p -> $"avgPool %d{p.Kernel} (stride %d{p.Stride}, pad %d{p.Padding})"
        | MaxPool p -> $"maxPool %d{p.Kernel} (stride %d{p.Stride}, pad %d{p.Padding})"
        | Linear l -> $"linear %d{l.OutFeatures}"
        | Dropout p -> $"dropout %g{p}"
        | Residual r -> $"residual %d{r.OutChannels} (stride %d{r.Stride})"
        | other -> other.KindName

/// A network: the input shape of one sample and its layers in order.
type NetworkSpec = { Input: Shape; Layers: Layer list }
