/// JSON codecs of network specs and presets (each key named once; see Codec.fs).
module Snn.Dsl.Json.SpecCodec

open Snn.Dsl

let shape: Codec<Shape> =
    Tagged.codec
        "kind"
        "a shape"
        [ Tagged.case
              "image"
              (Codec.record (fun c h w -> (c, h, w))
               |> Codec.field "channels" (fun (c, _, _) -> c) Codec.int
               |> Codec.field "height" (fun (_, h, _) -> h) Codec.int
               |> Codec.field "width" (fun (_, _, w) -> w) Codec.int)
              Image
              (function
               | Image(c, h, w) -> Some(c, h, w)
               | _ -> None)
          Tagged.case "vector" (Codec.record id |> Codec.field "features" id Codec.int) Vector (function
              | Vector n -> Some n
              | _ -> None) ]

let private pool: RecordCodec<Pool, Pool> =
    Codec.record<Pool, _> (fun k s p -> { Kernel = k; Stride = s; Padding = p })
    |> Codec.field "kernel" _.Kernel Codec.int
    |> Codec.field "stride" _.Stride Codec.int
    |> Codec.field "padding" _.Padding Codec.int

let private conv: RecordCodec<Conv, Conv> =
    Codec.record<Conv, _> (fun o k s p d g b i ->
        { OutChannels = o
          Kernel = k
          Stride = s
          Padding = p
          Dilation = d
          Groups = g
          Bias = b
          InChannels = i })
    |> Codec.field "out_channels" _.OutChannels Codec.int
    |> Codec.field "kernel" _.Kernel Codec.int
    |> Codec.field "stride" _.Stride Codec.int
    |> Codec.field "padding" _.Padding Codec.int
    |> Codec.fieldOr "dilation" _.Dilation Codec.int 1
    |> Codec.fieldOr "groups" _.Groups Codec.int 1
    |> Codec.field "bias" _.Bias Codec.bool
    |> Codec.fieldOr "in_channels" _.InChannels (Codec.option Codec.int) None

let private linear: RecordCodec<Linear, Linear> =
    Codec.record<Linear, _> (fun o b i ->
        { OutFeatures = o
          Bias = b
          InFeatures = i })
    |> Codec.field "out_features" _.OutFeatures Codec.int
    |> Codec.field "bias" _.Bias Codec.bool
    |> Codec.fieldOr "in_features" _.InFeatures (Codec.option Codec.int) None

let private shortcut =
    Codec.enum [ "auto", Auto; "identity", Identity; "projection", Projection ]

let private residual: RecordCodec<Residual, Residual> =
    Codec.record<Residual, _> (fun o s sc b ->
        { OutChannels = o
          Stride = s
          Shortcut = sc
          BatchNorm = b })
    |> Codec.field "out_channels" _.OutChannels Codec.int
    |> Codec.field "stride" _.Stride Codec.int
    |> Codec.field "shortcut" _.Shortcut shortcut
    |> Codec.field "batch_norm" _.BatchNorm Codec.bool

let layer: Codec<Layer> =
    Tagged.codec
        "kind"
        "a layer"
        [ Tagged.case "conv" conv Conv (function
              | Conv c -> Some c
              | _ -> None)
          Tagged.unit "bn" BatchNorm
          Tagged.unit "act" Act
          Tagged.case "avgPool" pool AvgPool (function
              | AvgPool p -> Some p
              | _ -> None)
          Tagged.case "maxPool" pool MaxPool (function
              | MaxPool p -> Some p
              | _ -> None)
          Tagged.unit "globalAvgPool" GlobalAvgPool
          Tagged.unit "flatten" Flatten
          Tagged.case "linear" linear Linear (function
              | Linear l -> Some l
              | _ -> None)
          Tagged.case "dropout" (Codec.record id |> Codec.field "p" id Codec.float) Dropout (function
              | Dropout p -> Some p
              | _ -> None)
          Tagged.case "residual" residual Residual (function
              | Residual r -> Some r
              | _ -> None) ]

let spec: Codec<NetworkSpec> =
    Codec.record (fun i l -> { Input = i; Layers = l })
    |> Codec.field "input" _.Input shape
    |> Codec.field "layers" _.Layers (Codec.list layer)
    |> Codec.build

let private resnetInput =
    Codec.enum
        [ "cifar", Cifar
          "imagenet", ImageNet MaxStemPool
          "imagenet-avgpool", ImageNet AvgStemPool ]

let private classes = Codec.record id |> Codec.field "classes" id Codec.int

let private resnet =
    Codec.record (fun i c -> i, c)
    |> Codec.field "input" fst resnetInput
    |> Codec.field "classes" snd Codec.int

let preset: Codec<Preset> =
    Tagged.codec
        "name"
        "a preset"
        [ Tagged.unit "fmnist-vgg" FmnistVgg
          Tagged.case "vgg16" classes Vgg16 (function
              | Vgg16 c -> Some c
              | _ -> None)
          Tagged.case "resnet20" classes ResNet20 (function
              | ResNet20 c -> Some c
              | _ -> None)
          Tagged.case "resnet18" resnet ResNet18 (function
              | ResNet18(i, c) -> Some(i, c)
              | _ -> None)
          Tagged.case "resnet34" resnet ResNet34 (function
              | ResNet34(i, c) -> Some(i, c)
              | _ -> None) ]
