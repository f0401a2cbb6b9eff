namespace Snn.Dsl

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
              Dilation = 1
              Groups = 1
              Bias = true
              InChannels = None }

    /// A convolution with every field given: `convWith 64 7 2 3 false` = 7x7, stride 2, pad 3, no bias.
    let convWith outChannels kernel stride padding bias =
        Conv
            { OutChannels = outChannels
              Kernel = kernel
              Stride = stride
              Padding = padding
              Dilation = 1
              Groups = 1
              Bias = bias
              InChannels = None }

    /// A convolution with dilation and groups as well:
    /// `convFull 32 3 1 2 2 4 true` = 3x3, stride 1, pad 2, dilation 2, 4 groups, with bias.
    let convFull outChannels kernel stride padding dilation groups bias =
        Conv
            { OutChannels = outChannels
              Kernel = kernel
              Stride = stride
              Padding = padding
              Dilation = dilation
              Groups = groups
              Bias = bias
              InChannels = None }

    /// A 3x3 pad-1 convolution that also declares its in-channels (checked by validation).
    let convFrom inChannels outChannels =
        Conv
            { OutChannels = outChannels
              Kernel = 3
              Stride = 1
              Padding = 1
              Dilation = 1
              Groups = 1
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
