/// One ONNX node on the data path to DSL layers, with ONNX's attribute defaults. Errors are
/// plain sentences; the caller prefixes the node's label.
module internal Snn.Dsl.Import.Nodes

open System
open Snn.Dsl

/// What the walk knows besides the node: the graph, the options, who produces a tensor, the
/// per-sample shape of the data tensors seen so far, and the input's batch size if fixed.
type Context =
    { Graph: OnnxGraph
      Options: ImportOptions
      FixedBatch: int64 option
      Producer: string -> Node option
      ShapeOf: string -> Shape option }

/// What one node becomes.
type Mapped =
    /// Layers (none for Identity, Dropout or a flatten of a vector).
    | Layers of Part list
    /// A zero Pad of p pixels on every side, merged into the next Conv or AveragePool.
    | PadBy of int
    /// An Add of a constant: the bias of the MatMul before it.
    | BiasAdd of Weight

/// The ops that become layers or are removed, in the order docs/IMPORT.md lists them.
let layerOps =
    [ "Conv"; "BatchNormalization"; "Relu"; "Clip"; "AveragePool"; "GlobalAveragePool"; "MaxPool"; "Gemm"
      "MatMul"; "Add"; "Flatten"; "Reshape"; "Pad"; "Dropout"; "Identity" ]

let supportedText =
    "supported: Conv, BatchNormalization, Relu, Clip (min 0), AveragePool, GlobalAveragePool, MaxPool (only with the option that replaces it by average pooling), Gemm, MatMul + Add, Flatten, Reshape (flatten), Add (residual blocks, biases), Pad (zero, before Conv or AveragePool), Dropout and Identity (removed), and Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast in shape arithmetic"

let private weight (c: Constant) = { Shape = c.Dims; Data = c.Floats }

/// A float constant at input k of the node, or the problem.
let private constantInput (ctx: Context) (node: Node) k what : Result<Constant, string> =
    match List.tryItem k node.Inputs with
    | None
    | Some "" -> Error $"%s{what} (input %d{k}) is missing"
    | Some name ->
        match ctx.Graph.Constants.TryFind name with
        | Some c when c.IsFloat -> Ok c
        | Some _ -> Error $"%s{what} '%s{name}' is not a float tensor"
        | None -> Error $"%s{what} '%s{name}' is not a constant (initializer or Constant): weights computed in the graph are not supported"

let private optionalInput (ctx: Context) (node: Node) k what =
    match List.tryItem k node.Inputs with
    | None
    | Some "" -> Ok None
    | Some _ -> constantInput ctx node k what |> Result.map Some

/// Spatial padding p from `pads` = [top, left, bottom, right] or auto_pad, for a window of extent
/// `extent` and stride s on an input of size h x w; Error for asymmetric padding.
let private padding (node: Node) (input: Shape) extent stride : Result<int, string> =
    let h, w =
        match input with
        | Image(_, h, w) -> h, w
        | Vector n -> n, n

    match OnnxGraph.attrString node "auto_pad" "NOTSET" with
    | "NOTSET" ->
        match OnnxGraph.attrInts node "pads" [ 0L; 0L; 0L; 0L ] with
        | [ t; l; b; r ] when t = l && l = b && b = r -> Ok(int t)
        | pads ->
            Error
                $"pads %A{pads} are asymmetric: the DSL supports the same zero padding on all four sides (PyTorch's padding=p); pad the input explicitly or re-export with symmetric padding"
    | "VALID" -> Ok 0
    | "SAME_UPPER"
    | "SAME_LOWER" ->
        let total size =
            max 0 (((size + stride - 1) / stride - 1) * stride + extent - size)

        let th, tw = total h, total w

        if th = tw && th % 2 = 0 then
            Ok(th / 2)
        else
            Error
                $"auto_pad SAME needs %d{th} rows and %d{tw} columns of padding, which cannot be split equally on both sides: the DSL supports symmetric padding only"
    | other -> Error $"auto_pad = %s{other} is not a valid ONNX value"

/// One int from a pair attribute that must hold the same value on both axes.
let private square (node: Node) name (fallback: int64) : Result<int, string> =
    match OnnxGraph.attrInts node name [ fallback; fallback ] with
    | [ a; b ] when a = b -> Ok(int a)
    | [ a ] -> Ok(int a)
    | v -> Error $"%s{name} %A{v} differ between height and width: the DSL supports square windows only"

let private collect (results: Result<'a, string> list) =
    results |> List.choose (function Error e -> Some e | Ok _ -> None)

let private conv (ctx: Context) (node: Node) (input: Shape) pendingPad =
    let channels =
        match input with
        | Image(c, _, _) -> Ok c
        | Vector _ -> Error "expects a feature map NxCxHxW, got a flat vector"

    let w = constantInput ctx node 1 "the weight"
    let b = optionalInput ctx node 2 "the bias"
    let stride = square node "strides" 1L
    let dilation = square node "dilations" 1L
    let groups = int (OnnxGraph.attrInt node "group" 1L)

    match channels, w, b, stride, dilation with
    | Ok ch, Ok w, Ok b, Ok stride, Ok dilation ->
        let dims = w.Dims

        if dims.Length <> 4 then
            Error [ $"the weight has dims %A{dims}: expected 4 (out-channels, in-channels / group, kernel height, kernel width)" ]
        elif dims[2] <> dims[3] then
            Error [ $"the kernel is %d{dims[2]}x%d{dims[3]}: the DSL supports square kernels only" ]
        else
            let k = int dims[2]
            let out = int dims[0]

            let problems =
                [ if groups < 1 || ch % groups <> 0 || out % groups <> 0 then
                      $"group = %d{groups} must divide the %d{ch} input channels and the %d{out} output channels"
                  elif int64 (ch / groups) <> dims[1] then
                      $"the weight has dims %A{dims}: expected %d{ch / groups} in-channels per group (the input has %d{ch} channels, group = %d{groups})"
                  match b with
                  | Some b when b.Dims <> [| int64 out |] -> $"the bias has dims %A{b.Dims}: expected [%d{out}]"
                  | _ -> ()
                  match OnnxGraph.attrInts node "kernel_shape" [ int64 k; int64 k ] with
                  | [ a; c ] when a = int64 k && c = int64 k -> ()
                  | ks -> $"kernel_shape %A{ks} does not match the weight's %d{k}x%d{k}" ]

            match problems, padding node input (dilation * (k - 1) + 1) stride with
            | [], Ok p ->
                let layer =
                    Conv
                        { OutChannels = out
                          Kernel = k
                          Stride = stride
                          Padding = p + pendingPad
                          Dilation = dilation
                          Groups = groups
                          Bias = b.IsSome
                          InChannels = None }

                let ps =
                    [ "weight", weight w
                      match b with
                      | Some b -> "bias", weight b
                      | None -> () ]

                Ok(Layers [ { Layer = layer; Params = ps; ClipMax = None; Nodes = [ node ] } ])
            | ps, pad -> Error(ps @ collect [ pad ])
    | _ -> Error(collect [ channels |> Result.map ignore ] @ collect [ w |> Result.map ignore; b |> Result.map ignore ] @ collect [ stride; dilation ])

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
        let cs = inputs |> List.map (function Ok c -> c | Error _ -> failwith "unreachable")

        let wrong =
            List.zip names cs
            |> List.filter (fun (_, c) -> c.Dims <> [| int64 channels |])
            |> List.map (fun (what, c) -> $"the %s{what} has dims %A{c.Dims}: expected [%d{channels}] (one per channel)")

        if not wrong.IsEmpty then
            Error wrong
        else
            let eps = OnnxGraph.attrFloat node "epsilon" 1e-5f
            let var = cs[3].Floats |> Array.map (fun v -> v + eps - torchEps)

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
        Ok(Layers [ { Layer = Act; Params = []; ClipMax = clip; Nodes = [ node ] } ])

    match node.OpType with
    | "Relu" -> act None
    | _ ->
        match clipBound ctx node 1 "min" Single.NegativeInfinity, clipBound ctx node 2 "max" Single.PositiveInfinity with
        | Ok lo, Ok hi when lo = 0.0f && hi > 0.0f ->
            act (if Single.IsPositiveInfinity hi then None else Some(float hi))
        | Ok lo, Ok hi ->
            Error [ $"Clip(min %g{lo}, max %g{hi}) is not a (bounded) ReLU: expected min 0 and max > 0" ]
        | a, b -> Error(collect [ a; b ])

let private pool (ctx: Context) (node: Node) (input: Shape) pendingPad =
    let kernel = square node "kernel_shape" 0L
    let stride = square node "strides" 1L

    let unsupported =
        [ if OnnxGraph.attrInt node "ceil_mode" 0L <> 0L then
              "ceil_mode = 1 is not supported: the DSL pools with floor (PyTorch's ceil_mode=False)"
          match OnnxGraph.attrInts node "dilations" [ 1L; 1L ] with
          | [ 1L; 1L ] -> ()
          | d -> $"dilations %A{d} are not supported for pooling" ]

    match input, kernel, stride with
    | Vector _, _, _ -> Error [ "expects a feature map NxCxHxW, got a flat vector" ]
    | _, Ok k, Ok s when unsupported.IsEmpty ->
        match padding node input k s with
        | Ok p when p > 0 && node.OpType = "AveragePool" && OnnxGraph.attrInt node "count_include_pad" 0L = 0L ->
            Error
                [ $"padding %d{p} with count_include_pad = 0 is not supported: the DSL's average pooling counts the zero padding (PyTorch's count_include_pad=True)" ]
        | Ok p ->
            let layer =
                AvgPool
                    { Kernel = k
                      Stride = s
                      Padding = p + pendingPad }

            Ok(Layers [ { Layer = layer; Params = []; ClipMax = None; Nodes = [ node ] } ])
        | Error e -> Error [ e ]
    | _, k, s -> Error(unsupported @ collect [ k; s ])

let private flattenOf (node: Node) (input: Shape) =
    match input with
    | Image _ -> Ok(Layers [ { Layer = Flatten; Params = []; ClipMax = None; Nodes = [ node ] } ])
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
    let c = if isGemm then optionalInput ctx node 2 "the bias (C)" else Ok None

    match features, b, c with
    | Ok n, Ok b, Ok c when transA = 0L && b.Dims.Length = 2 ->
        // y = alpha * x B' + beta * C, B' = B^T when transB; the DSL's linear is y = x W^T + bias.
        let rows, cols = int b.Dims[0], int b.Dims[1]
        let inF, outF = if transB = 1L then cols, rows else rows, cols

        let w =
            Array.init (outF * inF) (fun idx ->
                let o, i = idx / inF, idx % inF
                alpha * (if transB = 1L then b.Floats[o * cols + i] else b.Floats[i * cols + o]))

        let bias =
            match c with
            | Some c when c.Count = int64 outF -> Ok(Some(Array.map (fun v -> beta * v) c.Floats))
            | Some c when c.Count = 1L -> Ok(Some(Array.create outF (beta * c.Floats[0])))
            | Some c -> Error $"the bias (C) has dims %A{c.Dims}: expected [%d{outF}]"
            | None -> Ok None

        match bias with
        | _ when inF <> n ->
            Error [ $"the weight (B) has dims %A{b.Dims} (transB = %d{transB}): expected %d{n} in-features (the input has %d{n})" ]
        | Error e -> Error [ e ]
        | Ok bias ->
            let ps =
                [ "weight", { Shape = [| int64 outF; int64 inF |]; Data = w }
                  match bias with
                  | Some v -> "bias", { Shape = [| int64 outF |]; Data = v }
                  | None -> () ]

            let layer =
                Linear
                    { OutFeatures = outF
                      Bias = bias.IsSome
                      InFeatures = None }

            Ok(Layers [ { Layer = layer; Params = ps; ClipMax = None; Nodes = [ node ] } ])
    | Ok _, Ok b, Ok _ ->
        Error
            [ if transA <> 0L then "transA = 1 is not supported: the data input must be N x F"
              if b.Dims.Length <> 2 then $"the weight (B) has dims %A{b.Dims}: expected 2" ]
    | f, b, c -> Error(collect [ f |> Result.map ignore; b |> Result.map ignore; c |> Result.map ignore ])

let private pad (ctx: Context) (node: Node) =
    let pads =
        if List.length node.Inputs > 1 && node.Inputs[1] <> "" then
            match ctx.Graph.Constants.TryFind node.Inputs[1] with
            | Some c when c.Ints.Length > 0 -> Ok(List.ofArray c.Ints)
            | _ -> Error "the pads input is not a constant integer tensor"
        else
            Ok(OnnxGraph.attrInts node "pads" [])

    let value =
        match List.tryItem 2 node.Inputs with
        | Some name when name <> "" ->
            match ctx.Graph.Constants.TryFind name with
            | Some c when c.Floats.Length <= 1 && c.Ints.Length <= 1 ->
                Ok(if c.Floats.Length = 1 then c.Floats[0] else float32 (Array.sum c.Ints))
            | _ -> Error "the constant_value input is not a constant scalar"
        | _ -> Ok(OnnxGraph.attrFloat node "value" 0.0f)

    match pads, value, OnnxGraph.attrString node "mode" "constant" with
    | Ok [ 0L; 0L; t; l; 0L; 0L; b; r ], Ok 0.0f, "constant" when t = l && l = b && b = r -> Ok(PadBy(int t))
    | Ok ps, Ok 0.0f, "constant" ->
        Error [ $"pads %A{ps} are not the same zero padding on all four spatial sides of an NxCxHxW tensor" ]
    | Ok _, Ok v, "constant" -> Error [ $"constant_value = %g{v}: only zero padding is supported" ]
    | Ok _, Ok _, mode -> Error [ $"mode = %s{mode}: only constant (zero) padding is supported" ]
    | p, v, _ -> Error(collect [ p |> Result.map ignore; v |> Result.map ignore ])

/// An Add of the data tensor and a constant: the bias of the MatMul before it.
let private biasAdd (ctx: Context) (node: Node) (input: Shape) =
    match node.Inputs |> List.tryPick ctx.Graph.Constants.TryFind, input with
    | Some c, Vector n when c.IsFloat && c.Count = int64 n -> Ok(BiasAdd { Shape = [| int64 n |]; Data = c.Floats })
    | Some c, _ -> Error [ $"adds a constant of dims %A{c.Dims} to %O{input}: only the bias [F] of a MatMul is supported" ]
    | None, _ -> Error [ "is not an Add of two branches nor of a constant bias" ]

/// Maps one node on the data path, given the per-sample shape of its data input and the zero
/// padding of Pad nodes right before it.
let map (ctx: Context) (node: Node) (input: Shape) (pendingPad: int) : Result<Mapped, string list> =
    match node.OpType with
    | "Conv" -> conv ctx node input pendingPad
    | "BatchNormalization" -> batchNorm ctx node input
    | "Relu"
    | "Clip" -> activation ctx node
    | "AveragePool" -> pool ctx node input pendingPad
    | "MaxPool" when ctx.Options.ReplaceMaxPool -> pool ctx node input pendingPad
    | "MaxPool" ->
        Error
            [ "max pooling cannot be converted to spikes: re-export the model with average pooling, or import with the option that replaces MaxPool by average pooling of the same window (snn import --replace-maxpool; ImportOptions.ReplaceMaxPool)" ]
    | "GlobalAveragePool" ->
        match input with
        | Image _ -> Ok(Layers [ { Layer = GlobalAvgPool; Params = []; ClipMax = None; Nodes = [ node ] } ])
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
    | "Pad" -> pad ctx node
    | "Add" -> biasAdd ctx node input
    | "Dropout"
    | "Identity" -> Ok(Layers [])
    | op when ShapeArithmetic.helperOps.Contains op ->
        Error [ $"%s{op} is applied to the network's data: it is supported only in shape arithmetic (for a Reshape)" ]
    | op -> Error [ $"op type %s{op} is not supported; %s{supportedText}" ]
