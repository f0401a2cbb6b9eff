/// A network spec written back in the DSL's own syntax (docs/DSL.md), e.g. for `snn import`:
/// `input (1, 28, 28) --> conv 32 --> bn --> act --> avgPool 2 ...`, one block per line.
module Snn.Dsl.Import.DslText

open Snn.Dsl

let private layer (l: Layer) =
    match l with
    | Conv c when c.Dilation = 1 && c.Groups = 1 && c.InChannels.IsNone ->
        if c.Kernel = 3 && c.Stride = 1 && c.Padding = 1 && c.Bias then
            $"conv %d{c.OutChannels}"
        else
            $"convWith %d{c.OutChannels} %d{c.Kernel} %d{c.Stride} %d{c.Padding} %b{c.Bias}"
    | Conv c when c.InChannels.IsNone ->
        $"convFull %d{c.OutChannels} %d{c.Kernel} %d{c.Stride} %d{c.Padding} %d{c.Dilation} %d{c.Groups} %b{c.Bias}"
    | Conv c ->
        $"Conv {{ OutChannels = %d{c.OutChannels}; Kernel = %d{c.Kernel}; Stride = %d{c.Stride}; Padding = %d{c.Padding}; Dilation = %d{c.Dilation}; Groups = %d{c.Groups}; Bias = %b{c.Bias}; InChannels = Some %d{c.InChannels.Value} }}"
    | BatchNorm -> "bn"
    | Act -> "act"
    | AvgPool p when p.Stride = p.Kernel && p.Padding = 0 -> $"avgPool %d{p.Kernel}"
    | AvgPool p -> $"avgPoolWith %d{p.Kernel} %d{p.Stride} %d{p.Padding}"
    | MaxPool p when p.Stride = p.Kernel && p.Padding = 0 -> $"maxPool %d{p.Kernel}"
    | MaxPool p -> $"maxPoolWith %d{p.Kernel} %d{p.Stride} %d{p.Padding}"
    | GlobalAvgPool -> "globalAvgPool"
    | Flatten -> "flatten"
    | Linear l when l.Bias && l.InFeatures.IsNone -> $"linear %d{l.OutFeatures}"
    | Linear l ->
        let inF =
            match l.InFeatures with
            | Some n -> $"Some %d{n}"
            | None -> "None"

        $"Linear {{ OutFeatures = %d{l.OutFeatures}; Bias = %b{l.Bias}; InFeatures = %s{inF} }}"
    | Dropout p -> $"dropout %g{p}"
    | Residual r when r.Shortcut = Auto && r.BatchNorm -> $"residual %d{r.OutChannels} %d{r.Stride}"
    | Residual r ->
        $"Residual {{ OutChannels = %d{r.OutChannels}; Stride = %d{r.Stride}; Shortcut = %A{r.Shortcut}; BatchNorm = %b{r.BatchNorm} }}"

/// The spec as DSL source: the input, then the layers, a line break after each activation.
let ofSpec (spec: NetworkSpec) =
    let input =
        match spec.Input with
        | Image(c, h, w) -> $"input (%d{c}, %d{h}, %d{w})"
        | Vector n -> $"inputVector %d{n}"

    let sb = System.Text.StringBuilder(input)
    let mutable lineStart = true

    for l in spec.Layers do
        if lineStart then
            sb.Append("\n    --> ") |> ignore
        else
            sb.Append(" --> ") |> ignore

        sb.Append(layer l) |> ignore

        lineStart <-
            match l with
            | Act
            | Residual _
            | AvgPool _
            | MaxPool _
            | GlobalAvgPool -> true
            | _ -> false

    sb.ToString()
