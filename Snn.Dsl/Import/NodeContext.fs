/// What node mapping works with: the walk's context, what a node becomes, and the helpers that
/// read weights and window attributes with ONNX's defaults. Errors are plain sentences; the
/// caller prefixes the node's label.
module internal Snn.Dsl.Import.NodeContext

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

let weight (c: Constant) = { Shape = c.Dims; Data = c.Floats }

/// A float constant at input k of the node, or the problem.
let constantInput (ctx: Context) (node: Node) k what : Result<Constant, string> =
    match List.tryItem k node.Inputs with
    | None
    | Some "" -> Error $"%s{what} (input %d{k}) is missing"
    | Some name ->
        match ctx.Graph.Constants.TryFind name with
        | Some c when c.IsFloat -> Ok c
        | Some _ -> Error $"%s{what} '%s{name}' is not a float tensor"
        | None ->
            Error
                $"%s{what} '%s{name}' is not a constant (initializer or Constant): weights computed in the graph are not supported"

let optionalInput (ctx: Context) (node: Node) k what =
    match List.tryItem k node.Inputs with
    | None
    | Some "" -> Ok None
    | Some _ -> constantInput ctx node k what |> Result.map Some

/// Spatial padding p from `pads` = [top, left, bottom, right] or auto_pad, for a window of extent
/// `extent` and stride s on an input of size h x w; Error for asymmetric padding.
let padding (node: Node) (input: Shape) extent stride : Result<int, string> =
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
let square (node: Node) name (fallback: int64) : Result<int, string> =
    match OnnxGraph.attrInts node name [ fallback; fallback ] with
    | [ a; b ] when a = b -> Ok(int a)
    | [ a ] -> Ok(int a)
    | v -> Error $"%s{name} %A{v} differ between height and width: the DSL supports square windows only"

let collect (results: Result<'a, string> list) =
    results
    |> List.choose (function
        | Error e -> Some e
        | Ok _ -> None)
