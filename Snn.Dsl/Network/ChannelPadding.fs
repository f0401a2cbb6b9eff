/// Convolutions that libtorch 2.10's oneDNN pads: it stores channels in blocks of 8 (AVX2) or 16
/// (AVX-512), and for a channel count that is not a multiple of the block its convolutions read
/// padding libtorch never initialised and, even with zeroed memory, gave wrong weight gradients on
/// this project's machines (README, Troubleshooting; Snn.Core's LibTorchSettings). A network whose
/// convolutions all have multiples of 16 output channels was computed right (to 1e-5 of a float64 pass).
module Snn.Dsl.ChannelPadding

/// The channel block that keeps every oneDNN instruction set unpadded (16 on AVX-512, 8 on AVX2).
[<Literal>]
let Block = 16

/// One warning per conv layer or residual block (1-based layer number in the spec) whose output
/// channels are not a multiple of Block; empty for a network oneDNN does not pad.
let warnings (spec: NetworkSpec) : string list =
    spec.Layers
    |> List.indexed
    |> List.choose (fun (i, layer) ->
        let channels =
            match layer with
            | Conv c -> Some c.OutChannels
            | Residual r -> Some r.OutChannels
            | _ -> None

        channels
        |> Option.filter (fun c -> c % Block <> 0)
        |> Option.map (fun c ->
            $"layer {i + 1} ({layer.KindName}) has {c} output channels, not a multiple of {Block}: libtorch's oneDNN pads them and computed wrong gradients for such convolutions on x86 CPUs (README, Troubleshooting)"))
