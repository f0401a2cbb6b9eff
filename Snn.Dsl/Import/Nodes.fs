/// One ONNX node on the data path to DSL layers, with ONNX's attribute defaults. Errors are
/// plain sentences; the caller prefixes the node's label.
module internal Snn.Dsl.Import.Nodes

open System
open Snn.Dsl
open Snn.Dsl.Import.NodeContext

/// The ops that become layers or are removed, in the order docs/IMPORT.md lists them.
let layerOps =
    [ "Conv"
      "BatchNormalization"
      "Relu"
      "Clip"
      "AveragePool"
      "GlobalAveragePool"
      "MaxPool"
      "Gemm"
      "MatMul"
      "Add"
      "Flatten"
      "Reshape"
      "Pad"
      "Dropout"
      "Identity" ]

let supportedText =
    "supported: Conv, BatchNormalization, Relu, Clip (min 0), AveragePool, GlobalAveragePool, MaxPool (only with the option that replaces it by average pooling), Gemm, MatMul + Add, Flatten, Reshape (flatten), Add (residual blocks, biases), Pad (zero, before Conv or AveragePool), Dropout and Identity (removed), and Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast in shape arithmetic"

/// TorchSharp's BatchNorm eps; another eps is carried exactly by shifting the running variance.
let private torchEps = 1e-5f

let private batchNorm (ctx: Context) (node: Node) (input: Shape) =
    let channels =
        match input with
        | Image(c, _, _)
        | Vector c -> c

    let names = [ "scale"; "bias (B)"; "running mean"; "running variance" ]
    let inputs = names |> List.mapi (fun k what -> constantInput ctx node (k + 1) what)

    match collect inputs with
    | [] ->
        let cs =
            inputs
            |> List.map (function
                | Ok c -> c
                | Error _ -> failwith "unreachable")

        let wrong =
            List.zip names cs
            |> List.filter (fun (_, c) -> c.Dims <> [| int64 channels |])
            |> List.map (fun (what, c) ->
                $"the %s{what} has dims %A{c.Dims}: expected [%d{channels}] (one per channel)")

        if not wrong.IsEmpty then
            Error wrong
        else
            let eps = OnnxGraph.attrFloat node "epsilon" 1e-5f

            let var =
                if eps = torchEps then
                    cs[3].Floats
                else
                    cs[3].Floats |> Array.map (fun v -> v + eps - torchEps)

            Ok(
                Layers
                    [ { Layer = BatchNorm
                        Params =
                          [ "weight", weight cs[0]
                            "bias", weight cs[1]
                            "running_mean", weight cs[2]
                            "running_var", { Shape = cs[3].Dims; Data = var } ]
                        ClipMax = None
                        Nodes = [ node ] } ]
            )
    | es -> Error es

/// The scalar value of an optional Clip bound (input k, or attribute for opset < 11).
let private clipBound (ctx: Context) (node: Node) k attr (fallback: float32) =
    match List.tryItem k node.Inputs with
    | Some name when name <> "" ->
        match ctx.Graph.Constants.TryFind name with
        | Some c when c.Floats.Length = 1 -> Ok c.Floats[0]
        | Some c when c.Ints.Length = 1 -> Ok(float32 c.Ints[0])
        | _ -> Error $"the %s{attr} bound '%s{name}' is not a constant scalar"
    | _ -> Ok(OnnxGraph.attrFloat node attr fallback)

let private activation (ctx: Context) (node: Node) =
    let act clip =
        Ok(
            Layers
                [ { Layer = Act
                    Params = []
                    ClipMax = clip
                    Nodes = [ node ] } ]
        )

    match node.OpType with
    | "Relu" -> act None
    | _ ->
        match
            clipBound ctx node 1 "min" Single.NegativeInfinity, clipBound ctx node 2 "max" Single.PositiveInfinity
        with
        | Ok lo, Ok hi when lo = 0.0f && hi > 0.0f ->
            act (
                if Single.IsPositiveInfinity hi then
                    None
                else
                    Some(float hi)
            )
        | Ok lo, Ok hi -> Error [ $"Clip(min %g{lo}, max %g{hi}) is not a (bounded) ReLU: expected min 0 and max > 0" ]
        | a, b -> Error(collect [ a; b ])

let private flattenOf (node: Node) (input: Shape) =
    match input with
    | Image _ ->
        Ok(
            Layers
                [ { Layer = Flatten
                    Params = []
                    ClipMax = None
                    Nodes = [ node ] } ]
        )
    | Vector _ -> Ok(Layers [])

let private linear (ctx: Context) (node: Node) (input: Shape) =
    let features =
        match input with
        | Vector n -> Ok n
        | Image _ -> Error "expects a flat vector NxF: flatten first"

    let transA = OnnxGraph.attrInt node "transA" 0L
    let transB = OnnxGraph.attrInt node "transB" 0L
    let alpha = OnnxGraph.attrFloat node "alpha" 1.0f
    let beta = OnnxGraph.attrFloat node "beta" 1.0f
    let isGemm = node.OpType = "Gemm"
    let b = constantInput ctx node 1 "the weight (B)"

    let c =
        if isGemm then
            optionalInput ctx node 2 "the bias (C)"
        else
            Ok None

    match features, b, c with
    | Ok n, Ok b, Ok c when transA = 0L && b.Dims.Length = 2 ->
        // y = alpha * x B' + beta * C, B' = B^T when transB; the DSL's linear is y = x W^T + bias.
        let rows, cols = int b.Dims[0], int b.Dims[1]
        let inF, outF = if transB = 1L then cols, rows else rows, cols

        let w =
            Array.init (outF * inF) (fun idx ->
                let o, i = idx / inF, idx % inF

                alpha
                * (if transB = 1L then
                       b.Floats[o * cols + i]
                   else
                       b.Floats[i * cols + o]))

        let bias =
            match c with
            | Some c when c.Count = int64 outF -> Ok(Some(Array.map (fun v -> beta * v) c.Floats))
            | Some c when c.Count = 1L -> Ok(Some(Array.create outF (beta * c.Floats[0])))
            | Some c -> Error $"the bias (C) has dims %A{c.Dims}: expected [%d{outF}]"
            | None -> Ok None

        match bias with
        | _ when inF <> n ->
            Error
                [ $"the weight (B) has dims %A{b.Dims} (transB = %d{transB}): expected %d{n} in-features (the input has %d{n})" ]
        | Error e -> Error [ e ]
        | Ok bias ->
            let ps =
                [ "weight",
                  { Shape = [| int64 outF; int64 inF |]
                    Data = w }
                  match bias with
                  | Some v -> "bias", { Shape = [| int64 outF |]; Data = v }
                  | None -> () ]

            let layer =
                Linear
                    { OutFeatures = outF
                      Bias = bias.IsSome
                      InFeatures = None }

            Ok(
                Layers
                    [ { Layer = layer
                        Params = ps
                        ClipMax = None
                        Nodes = [ node ] } ]
            )
    | Ok _, Ok b, Ok _ ->
        Error
            [ if transA <> 0L then
                  "transA = 1 is not supported: the data input must be N x F"
              if b.Dims.Length <> 2 then
                  $"the weight (B) has dims %A{b.Dims}: expected 2" ]
    | f, b, c -> Error(collect [ f |> Result.map ignore; b |> Result.map ignore; c |> Result.map ignore ])

/// An Add of the data tensor and a constant: the bias of the MatMul before it.
let private biasAdd (ctx: Context) (node: Node) (input: Shape) =
    match node.Inputs |> List.tryPick ctx.Graph.Constants.TryFind, input with
    | Some c, Vector n when c.IsFloat && c.Count = int64 n ->
        Ok(
            BiasAdd
                { Shape = [| int64 n |]
                  Data = c.Floats }
        )
    | Some c, _ ->
        Error [ $"adds a constant of dims %A{c.Dims} to %O{input}: only the bias [F] of a MatMul is supported" ]
    | None, _ -> Error [ "is not an Add of two branches nor of a constant bias" ]

/// Maps one node on the data path, given the per-sample shape of its data input and the zero
/// padding of Pad nodes right before it.
let map (ctx: Context) (node: Node) (input: Shape) (pendingPad: int) : Result<Mapped, string list> =
    match node.OpType with
    | "Conv" -> WindowNodes.conv ctx node input pendingPad
    | "BatchNormalization" -> batchNorm ctx node input
    | "Relu"
    | "Clip" -> activation ctx node
    | "AveragePool" -> WindowNodes.pool ctx node input pendingPad
    | "MaxPool" when ctx.Options.ReplaceMaxPool -> WindowNodes.pool ctx node input pendingPad
    | "MaxPool" ->
        Error
            [ "max pooling cannot be converted to spikes: re-export the model with average pooling, or import with the option that replaces MaxPool by average pooling of the same window (snn import --replace-maxpool; ImportOptions.ReplaceMaxPool)" ]
    | "GlobalAveragePool" ->
        match input with
        | Image _ ->
            Ok(
                Layers
                    [ { Layer = GlobalAvgPool
                        Params = []
                        ClipMax = None
                        Nodes = [ node ] } ]
            )
        | Vector _ -> Error [ "expects a feature map NxCxHxW, got a flat vector" ]
    | "Flatten" ->
        match OnnxGraph.attrInt node "axis" 1L with
        | 1L -> flattenOf node input
        | a -> Error [ $"axis = %d{a}: only axis 1 (keep the batch axis) is supported" ]
    | "Reshape" ->
        let target =
            ShapeArithmetic.evaluate ctx.Graph ctx.Producer ctx.ShapeOf (List.item 1 node.Inputs)

        match target with
        | Ok t when ShapeArithmetic.isFlatten input ctx.FixedBatch t -> flattenOf node input
        | Ok t -> Error [ $"reshapes %O{input} to %A{t.Elements}: only a flatten to [batch, features] is supported" ]
        | Error e -> Error [ $"the target shape cannot be evaluated: %s{e}" ]
    | "Gemm"
    | "MatMul" -> linear ctx node input
    | "Pad" -> WindowNodes.pad ctx node
    | "Add" -> biasAdd ctx node input
    | "Dropout"
    | "Identity" -> Ok(Layers [])
    | op when ShapeArithmetic.helperOps.Contains op ->
        Error [ $"%s{op} is applied to the network's data: it is supported only in shape arithmetic (for a Reshape)" ]
    | op -> Error [ $"op type %s{op} is not supported; %s{supportedText}" ]
