namespace Snn.Dsl

/// What is wrong with a spec; `ValidationError.Message` renders it.
type Problem =
    /// A size that must be positive (channels, kernel, stride, features, input).
    | NonPositive of what: string * value: int
    | NegativePadding of value: int
    /// Pool padding must be at most half the window (PyTorch's rule).
    | PaddingTooLarge of padding: int * kernel: int
    | DropoutOutOfRange of p: float
    /// An activation's initial threshold theta0 must be finite and > 0.
    | ThresholdNotPositive of threshold: float
    /// Noisy quantization's p must be a probability in [0, 1).
    | NoiseProbabilityOutOfRange of p: float
    /// The window (kernel; a dilated conv's extent d * (k - 1) + 1) does not fit in the padded input.
    | KernelLargerThanInput of kernel: int * paddedHeight: int * paddedWidth: int
    /// The layer needs a feature map but receives a vector.
    | ExpectedImage of actual: Shape
    /// A linear layer receives a feature map: a flatten is missing.
    | FlattenMissing of actual: Shape
    | InChannelsMismatch of declared: int * actual: int
    /// A grouped conv needs in- and out-channels divisible by its groups.
    | GroupsDoNotDivide of groups: int * inChannels: int * outChannels: int
    | InFeaturesMismatch of declared: int * actual: int
    /// Batch norm can only be folded into a directly preceding conv or linear.
    | BatchNormNotAfterWeightedLayer of previous: string
    /// An activation must follow a conv, linear or bn (a neuron integrates a weighted input).
    | ActivationNotAfterWeightedLayer of previous: string
    | EmptyNetwork
    /// The last layer must be a linear (the output layer accumulates, it has no neuron).
    | OutputNotLinear of last: string
    /// An identity shortcut needs the block to keep its shape.
    | ResidualShapeMismatch of input: Shape * output: Shape
    /// Conversion: a spiking neuron cannot take a max over spike trains.
    | MaxPoolNotConvertible
    /// Conversion: batch norm must be folded into the weights first.
    | BatchNormNotFolded
    /// Conversion: the activation has no threshold to become the neuron's (ReLU).
    | NoThreshold of activation: string
    /// Conversion: an overlapping or padded average pooling folds into the next synapse only as
    /// the only pooling before it (two pools compose into one window only when both tile).
    | PoolNotFoldable of kernel: int * stride: int * padding: int
    /// Conversion: a pooling or flatten with no weighted layer after it to fold into.
    | NothingToFoldInto

/// One validation error: the layer (index into `Layers`, None for the network as a whole),
/// the layer's description and the problem.
type ValidationError =
    { Index: int option
      Layer: string
      Problem: Problem }

    member this.Message =
        let where =
            match this.Index with
            | Some i -> $"layer %d{i} (%s{this.Layer})"
            | None -> this.Layer

        let what =
            match this.Problem with
            | NonPositive(what, v) -> $"%s{what} = %d{v} is out of range: expected > 0"
            | NegativePadding v -> $"padding = %d{v} is out of range: expected >= 0"
            | PaddingTooLarge(p, k) -> $"padding = %d{p} is too large for kernel %d{k}: expected <= %d{k / 2}"
            | DropoutOutOfRange p -> $"dropout p = %g{p} is out of range: expected a probability in [0, 1)"
            | ThresholdNotPositive t -> $"initial threshold = %g{t} is out of range: expected a finite value > 0"
            | NoiseProbabilityOutOfRange p ->
                $"noise probability p = %g{p} is out of range: expected a probability in [0, 1)"
            | KernelLargerThanInput(k, h, w) -> $"kernel %d{k}x%d{k} is larger than the padded input %d{h}x%d{w}"
            | ExpectedImage s -> $"expected a feature map CxHxW, got a vector of %O{s}"
            | FlattenMissing s -> $"expected a vector, got a feature map %O{s}: insert flatten before linear"
            | InChannelsMismatch(d, a) -> $"in-channels: expected %d{d} (declared), got %d{a} (inferred)"
            | GroupsDoNotDivide(g, i, o) ->
                $"groups = %d{g} must divide both in-channels (%d{i}) and out-channels (%d{o})"
            | InFeaturesMismatch(d, a) -> $"in-features: expected %d{d} (declared), got %d{a} (inferred)"
            | BatchNormNotAfterWeightedLayer p ->
                $"batch norm must directly follow a conv or linear to be foldable, but follows %s{p}"
            | ActivationNotAfterWeightedLayer p -> $"an activation must follow a conv, linear or bn, but follows %s{p}"
            | EmptyNetwork -> "the network has no layers: expected at least one linear output layer"
            | OutputNotLinear l -> $"the network must end in a linear output layer, but ends in %s{l}"
            | ResidualShapeMismatch(i, o) ->
                $"identity shortcut needs equal shapes, but the block maps %O{i} to %O{o}: use a projection"
            | MaxPoolNotConvertible ->
                "max pooling cannot be converted to spikes: use average pooling (avgPool), or convert with ReplaceMaxPool = true to replace it by average pooling of the same window"
            | BatchNormNotFolded -> "batch norm is not folded: run foldBatchNorm (Fold.foldBatchNorm) before converting"
            | NoThreshold a ->
                $"the activation is %s{a}, which has no threshold: convert a network trained with Clip or QC activations"
            | PoolNotFoldable(k, s, p) ->
                $"average pooling %d{k}x%d{k} with stride %d{s} and padding %d{p} cannot be folded into the next synapse together with another pooling: expected it to be the only pooling before the next conv or linear, or stride = kernel and padding 0"
            | NothingToFoldInto -> "pooling or flatten must be followed by a conv or linear layer to fold into"

        $"%s{where}: %s{what}"

/// The inferred facts about one layer of a valid spec.
type LayerInfo =
    {
        Index: int
        Layer: Layer
        InputShape: Shape
        OutputShape: Shape
        /// Learnable parameters (weights, biases, BN gamma and beta; not running statistics).
        Parameters: int64
    }

/// A validated spec with every layer's shapes and parameter counts.
type NetworkInfo =
    {
        Spec: NetworkSpec
        Layers: LayerInfo list
        OutputShape: Shape
        Parameters: int64
        /// Facts worth knowing that are not errors, e.g. a pooling that drops a row.
        Notes: string list
    }
