/// Networks as plain data: a spec is an input shape and an ordered list of layers. Shape
/// inference and validation run on the data alone and report every error at once, before any
/// tensor exists; Compile.fs turns a valid spec into TorchSharp modules.
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

/// A 2-d convolution. In-channels come from the input shape; `InChannels = Some c` declares
/// them as well so that validation checks the declaration against the inferred shape.
type Conv =
    { OutChannels: int
      Kernel: int
      Stride: int
      Padding: int
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
        | Conv c -> $"conv %d{c.OutChannels} (%d{c.Kernel}x%d{c.Kernel}, stride %d{c.Stride}, pad %d{c.Padding})"
        | AvgPool p -> $"avgPool %d{p.Kernel} (stride %d{p.Stride}, pad %d{p.Padding})"
        | MaxPool p -> $"maxPool %d{p.Kernel} (stride %d{p.Stride}, pad %d{p.Padding})"
        | Linear l -> $"linear %d{l.OutFeatures}"
        | Dropout p -> $"dropout %g{p}"
        | Residual r -> $"residual %d{r.OutChannels} (stride %d{r.Stride})"
        | other -> other.KindName

/// A network: the input shape of one sample and its layers in order.
type NetworkSpec = { Input: Shape; Layers: Layer list }

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
    /// The window (kernel) does not fit in the padded input.
    | KernelLargerThanInput of kernel: int * paddedHeight: int * paddedWidth: int
    /// The layer needs a feature map but receives a vector.
    | ExpectedImage of actual: Shape
    /// A linear layer receives a feature map: a flatten is missing.
    | FlattenMissing of actual: Shape
    | InChannelsMismatch of declared: int * actual: int
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
    /// Conversion: only non-overlapping, unpadded average pooling folds into the next synapse.
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
                $"average pooling %d{k}x%d{k} with stride %d{s} and padding %d{p} cannot be folded into the next synapse: expected stride = kernel and padding 0"
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

/// Building, inferring and validating network specs.
module Network =

    let private convOut size kernel stride padding =
        (size + 2 * padding - kernel) / stride + 1

    /// Parameters of a conv: out * in * k * k (+ out for the bias).
    let convParameters inChannels (c: Conv) =
        int64 c.OutChannels * int64 inChannels * int64 c.Kernel * int64 c.Kernel
        + (if c.Bias then int64 c.OutChannels else 0L)

    /// The layers a residual block is made of, in execution order, as plain layers:
    /// body (conv1, bn1, act1, conv2, bn2) and shortcut (empty = identity, else conv, bn).
    let residualParts inChannels (r: Residual) =
        let conv3 stride =
            { OutChannels = r.OutChannels
              Kernel = 3
              Stride = stride
              Padding = 1
              Bias = not r.BatchNorm
              InChannels = None }

        let bn = if r.BatchNorm then [ BatchNorm ] else []

        let body = [ Conv(conv3 r.Stride) ] @ bn @ [ Act; Conv(conv3 1) ] @ bn

        let projection =
            match r.Shortcut with
            | Projection -> true
            | Identity -> false
            | Auto -> r.Stride <> 1 || inChannels <> r.OutChannels

        let shortcut =
            if projection then
                [ Conv
                      { OutChannels = r.OutChannels
                        Kernel = 1
                        Stride = r.Stride
                        Padding = 0
                        Bias = not r.BatchNorm
                        InChannels = None } ]
                @ bn
            else
                []

        body, shortcut

    let private sizeErrors (layer: Layer) =
        let positive what v =
            if v > 0 then [] else [ NonPositive(what, v) ]

        let nonNegative v =
            if v >= 0 then [] else [ NegativePadding v ]

        match layer with
        | Conv c ->
            positive "out-channels" c.OutChannels
            @ positive "kernel" c.Kernel
            @ positive "stride" c.Stride
            @ nonNegative c.Padding
            @ (c.InChannels |> Option.map (positive "in-channels") |> Option.defaultValue [])
        | AvgPool p
        | MaxPool p ->
            positive "kernel" p.Kernel
            @ positive "stride" p.Stride
            @ nonNegative p.Padding
            @ (if p.Kernel > 0 && p.Padding > p.Kernel / 2 then
                   [ PaddingTooLarge(p.Padding, p.Kernel) ]
               else
                   [])
        | Linear l ->
            positive "out-features" l.OutFeatures
            @ (l.InFeatures |> Option.map (positive "in-features") |> Option.defaultValue [])
        | Dropout p -> if p >= 0.0 && p < 1.0 then [] else [ DropoutOutOfRange p ]
        | Residual r -> positive "out-channels" r.OutChannels @ positive "stride" r.Stride
        | BatchNorm
        | Act
        | GlobalAvgPool
        | Flatten -> []

    /// Output shape of a window op (conv or pool) on an image, or the problem.
    let private window (input: Shape) kernel stride padding (outChannels: int option) =
        match input with
        | Vector _ -> Error(ExpectedImage input)
        | Image(c, h, w) ->
            let ph, pw = h + 2 * padding, w + 2 * padding

            if kernel > ph || kernel > pw then
                Error(KernelLargerThanInput(kernel, ph, pw))
            else
                Ok(Image(defaultArg outChannels c, convOut h kernel stride padding, convOut w kernel stride padding))

    /// Infers one layer's output shape (when its size fields are valid), its parameter count,
    /// and its shape problems. `None` output means the shape is unknown after an error.
    let rec private infer (layer: Layer) (input: Shape) : Shape option * int64 * Problem list * string list =
        let fromResult r params' =
            match r with
            | Ok s -> Some s, params', [], []
            | Error p -> None, 0L, [ p ], []

        match layer with
        | Conv c ->
            match input with
            | Image(ch, _, _) ->
                let declared =
                    match c.InChannels with
                    | Some d when d <> ch -> [ InChannelsMismatch(d, ch) ]
                    | _ -> []

                let s, n, ps, notes =
                    fromResult (window input c.Kernel c.Stride c.Padding (Some c.OutChannels)) (convParameters ch c)

                s, n, declared @ ps, notes
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
        | AvgPool p
        | MaxPool p ->
            let s, n, ps, _ = fromResult (window input p.Kernel p.Stride p.Padding None) 0L

            let notes =
                match input, s with
                | Image(_, h, w), Some(Image(_, oh, ow)) when
                    (h + 2 * p.Padding - p.Kernel) % p.Stride <> 0
                    || (w + 2 * p.Padding - p.Kernel) % p.Stride <> 0
                    ->
                    [ $"%s{layer.Description} on %d{h}x%d{w} drops the last row/column (floor): output %d{oh}x%d{ow}" ]
                | _ -> []

            s, n, ps, notes
        | GlobalAvgPool ->
            match input with
            | Image(c, _, _) -> Some(Image(c, 1, 1)), 0L, [], []
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
        | BatchNorm ->
            match input with
            | Image(c, _, _)
            | Vector c -> Some input, 2L * int64 c, [], []
        | Act
        | Dropout _ -> Some input, 0L, [], []
        | Flatten ->
            match input with
            | Image(c, h, w) -> Some(Vector(c * h * w)), 0L, [], []
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
        | Linear l ->
            match input with
            | Vector n ->
                let declared =
                    match l.InFeatures with
                    | Some d when d <> n -> [ InFeaturesMismatch(d, n) ]
                    | _ -> []

                let ps =
                    int64 n * int64 l.OutFeatures + (if l.Bias then int64 l.OutFeatures else 0L)

                Some(Vector l.OutFeatures), ps, declared, []
            | Image _ ->
                // The output shape is still known, so later layers are checked too.
                Some(Vector l.OutFeatures), 0L, [ FlattenMissing input ], []
        | Residual r ->
            match input with
            | Vector _ -> None, 0L, [ ExpectedImage input ], []
            | Image(ch, _, _) ->
                let body, shortcut = residualParts ch r

                let run parts =
                    parts
                    |> List.fold
                        (fun (shape, total, problems) part ->
                            match shape with
                            | None -> None, total, problems
                            | Some s ->
                                let s', n, ps, _ = infer part s
                                s', total + n, problems @ ps)
                        (Some input, 0L, [])

                let bodyOut, bodyParams, bodyProblems = run body
                let shortOut, shortParams, shortProblems = run shortcut

                let mismatch =
                    match bodyOut, shortOut with
                    | Some b, Some s when b <> s -> [ ResidualShapeMismatch(input, b) ]
                    | _ -> []

                // The body's output stays known after a shortcut mismatch, so checking goes on.
                bodyOut, bodyParams + shortParams, List.distinct (bodyProblems @ shortProblems) @ mismatch, []

    /// The output shape of one layer on this input, or its size and shape problems (the
    /// order rules, e.g. bn after a conv, are checked by `validate` only).
    let layerOutput (layer: Layer) (input: Shape) : Result<Shape, Problem list> =
        match sizeErrors layer with
        | [] ->
            match infer layer input with
            | Some s, _, [], _ -> Ok s
            | _, _, ps, _ -> Error ps
        | ps -> Error ps

    let private isWeighted layer =
        match layer with
        | Conv _
        | Linear _ -> true
        | _ -> false

    let private orderProblems (layers: Layer list) =
        layers
        |> List.mapi (fun i layer ->
            let previous = if i = 0 then None else Some layers[i - 1]
            let prevName = previous |> Option.map _.KindName |> Option.defaultValue "the input"

            match layer with
            | BatchNorm when not (previous |> Option.exists isWeighted) ->
                [ i, BatchNormNotAfterWeightedLayer prevName ]
            | Act when not (previous |> Option.exists (fun p -> isWeighted p || p = BatchNorm)) ->
                [ i, ActivationNotAfterWeightedLayer prevName ]
            | _ -> [])
        |> List.concat

    /// Infers every layer's shape and validates the whole spec; returns all errors together.
    let validate (spec: NetworkSpec) : Result<NetworkInfo, ValidationError list> =
        let inputErrors =
            let positive what v =
                if v > 0 then
                    []
                else
                    [ { Index = None
                        Layer = "input"
                        Problem = NonPositive(what, v) } ]

            match spec.Input with
            | Image(c, h, w) ->
                positive "input channels" c
                @ positive "input height" h
                @ positive "input width" w
            | Vector n -> positive "input features" n

        let error i (layer: Layer) p =
            { Index = Some i
              Layer = layer.Description
              Problem = p }

        let _, infos, shapeErrors, notes =
            spec.Layers
            |> List.indexed
            |> List.fold
                (fun (shape, infos, errors, notes) (i, layer) ->
                    let sizes = sizeErrors layer

                    match shape with
                    | Some s when sizes.IsEmpty && inputErrors.IsEmpty ->
                        let out, n, problems, ns = infer layer s

                        let infos' =
                            match out with
                            | Some o when problems.IsEmpty ->
                                { Index = i
                                  Layer = layer
                                  InputShape = s
                                  OutputShape = o
                                  Parameters = n }
                                :: infos
                            | _ -> infos

                        out,
                        infos',
                        errors @ List.map (error i layer) problems,
                        notes @ List.map (sprintf "layer %d: %s" i) ns
                    | Some s when inputErrors.IsEmpty && layer.KindName = "dropout" ->
                        // A bad dropout p does not change the shape: keep checking what follows.
                        Some s, infos, errors @ List.map (error i layer) sizes, notes
                    | _ -> None, infos, errors @ List.map (error i layer) sizes, notes)
                (Some spec.Input, [], [], [])

        let orderErrors =
            orderProblems spec.Layers |> List.map (fun (i, p) -> error i spec.Layers[i] p)

        let outputErrors =
            match List.tryLast spec.Layers with
            | None ->
                [ { Index = None
                    Layer = "network"
                    Problem = EmptyNetwork } ]
            | Some(Linear _) -> []
            | Some last ->
                [ { Index = Some(spec.Layers.Length - 1)
                    Layer = last.Description
                    Problem = OutputNotLinear last.KindName } ]

        let errors =
            inputErrors @ shapeErrors @ orderErrors @ outputErrors
            |> List.sortBy (fun e -> defaultArg e.Index -1)

        if errors.IsEmpty then
            let infos = List.rev infos

            Ok
                { Spec = spec
                  Layers = infos
                  OutputShape = (List.last infos).OutputShape
                  Parameters = infos |> List.sumBy _.Parameters
                  Notes = notes }
        else
            Error errors

    /// The messages of a validation result's errors (empty when valid).
    let messages (result: Result<NetworkInfo, ValidationError list>) =
        match result with
        | Ok _ -> []
        | Error es -> es |> List.map _.Message

/// The network DSL: `input (1, 28, 28) --> conv 32 --> bn --> act --> avgPool 2 ...`.
[<AutoOpen>]
module NetworkBuilders =

    /// A spec with this image input (channels, height, width) and no layers yet.
    let input (channels: int, height: int, width: int) =
        { Input = Image(channels, height, width)
          Layers = [] }

    /// A spec with a vector input of this many features.
    let inputVector (features: int) =
        { Input = Vector features; Layers = [] }

    /// Appends a layer: reads left to right like the paper's tables.
    let (-->) (spec: NetworkSpec) (layer: Layer) =
        { spec with
            Layers = spec.Layers @ [ layer ] }

    /// Appends several layers.
    let (-->>) (spec: NetworkSpec) (layers: Layer list) =
        { spec with
            Layers = spec.Layers @ layers }

    /// A spec from an input shape and a list of layers.
    let network (input: Shape) (layers: Layer list) = { Input = input; Layers = layers }

    /// 3x3 convolution, stride 1, padding 1, with bias (PyTorch's default).
    let conv outChannels =
        Conv
            { OutChannels = outChannels
              Kernel = 3
              Stride = 1
              Padding = 1
              Bias = true
              InChannels = None }

    /// A convolution with every field given: `convWith 64 7 2 3 false` = 7x7, stride 2, pad 3, no bias.
    let convWith outChannels kernel stride padding bias =
        Conv
            { OutChannels = outChannels
              Kernel = kernel
              Stride = stride
              Padding = padding
              Bias = bias
              InChannels = None }

    /// A 3x3 pad-1 convolution that also declares its in-channels (checked by validation).
    let convFrom inChannels outChannels =
        Conv
            { OutChannels = outChannels
              Kernel = 3
              Stride = 1
              Padding = 1
              Bias = true
              InChannels = Some inChannels }

    let bn = BatchNorm
    let act = Act
    let flatten = Flatten
    let globalAvgPool = GlobalAvgPool

    /// Average pooling with window k and stride k.
    let avgPool k =
        AvgPool { Kernel = k; Stride = k; Padding = 0 }

    /// Average pooling with window, stride and (zero, counted) padding.
    let avgPoolWith kernel stride padding =
        AvgPool
            { Kernel = kernel
              Stride = stride
              Padding = padding }

    /// Max pooling with window k and stride k.
    let maxPool k =
        MaxPool { Kernel = k; Stride = k; Padding = 0 }

    /// Max pooling with window, stride and padding.
    let maxPoolWith kernel stride padding =
        MaxPool
            { Kernel = kernel
              Stride = stride
              Padding = padding }

    /// A linear layer with bias; in-features come from the input shape.
    let linear outFeatures =
        Linear
            { OutFeatures = outFeatures
              Bias = true
              InFeatures = None }

    /// A linear layer that also declares its in-features: `linearFrom 1152 256`.
    let linearFrom inFeatures outFeatures =
        Linear
            { OutFeatures = outFeatures
              Bias = true
              InFeatures = Some inFeatures }

    let dropout p = Dropout p

    /// A basic residual block with batch norm and an automatic shortcut.
    let residual outChannels stride =
        Residual
            { OutChannels = outChannels
              Stride = stride
              Shortcut = Auto
              BatchNorm = true }
