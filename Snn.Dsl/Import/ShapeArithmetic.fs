/// The shape arithmetic exporters emit around a flatten (torch.onnx.export's older pattern
/// Shape -> Gather -> Unsqueeze -> Concat -> Reshape), evaluated symbolically: the batch size is
/// a symbol, every other value must be a constant.
module internal Snn.Dsl.Import.ShapeArithmetic

open Snn.Dsl

/// One element of an integer shape vector: a known value or the batch size.
type Dim =
    | Known of int64
    | Batch

/// An evaluated integer tensor: its elements and whether it is a scalar (rank 0).
type Value = { Elements: Dim list; Scalar: bool }

/// The ops this evaluator understands (besides Constant and initializers).
let helperOps =
    set [ "Shape"; "Gather"; "Unsqueeze"; "Squeeze"; "Concat"; "Cast"; "Constant" ]

let private dimsOf (s: Shape) =
    match s with
    | Image(c, h, w) -> [ Batch; Known(int64 c); Known(int64 h); Known(int64 w) ]
    | Vector n -> [ Batch; Known(int64 n) ]

let private normalise (rank: int) (axis: int64) =
    int (if axis < 0L then axis + int64 rank else axis)

/// Evaluates tensor `name`: a constant, or the output of a chain of helper ops rooted at Shape(x)
/// of a data tensor whose per-sample shape `shapeOf` knows. Error says what could not be evaluated.
let rec evaluate
    (graph: OnnxGraph)
    (producer: string -> Node option)
    (shapeOf: string -> Shape option)
    (name: string)
    : Result<Value, string> =
    let eval = evaluate graph producer shapeOf

    match graph.Constants.TryFind name with
    | Some c when c.Ints.Length > 0 || c.Count = 0L ->
        Ok
            { Elements = c.Ints |> Array.map Known |> List.ofArray
              Scalar = c.Dims.Length = 0 }
    | Some c -> Error $"tensor '%s{c.Name}' holds floats where integer shape values were expected"
    | None ->
        match producer name with
        | None -> Error $"tensor '%s{name}' is neither a constant nor computed by shape arithmetic"
        | Some n ->
            let input k =
                if List.length n.Inputs > k then
                    eval n.Inputs[k]
                else
                    Error $"%s{n.Label} lacks input %d{k}"

            match n.OpType with
            | "Shape" ->
                match shapeOf n.Inputs[0] with
                | None -> Error $"%s{n.Label}: the shape of '%s{n.Inputs[0]}' is not known here"
                | Some s ->
                    let all = dimsOf s
                    let rank = all.Length
                    let start = normalise rank (OnnxGraph.attrInt n "start" 0L) |> max 0 |> min rank

                    let stop =
                        normalise rank (OnnxGraph.attrInt n "end" (int64 rank)) |> max 0 |> min rank

                    Ok
                        { Elements = all |> List.skip start |> List.take (max 0 (stop - start))
                          Scalar = false }
            | "Cast" -> input 0
            | "Gather" ->
                match input 0, input 1 with
                | Ok data, Ok idx when OnnxGraph.attrInt n "axis" 0L = 0L ->
                    let pick d =
                        match d with
                        | Known i ->
                            let i = normalise data.Elements.Length i

                            if i >= 0 && i < data.Elements.Length then
                                Ok data.Elements[i]
                            else
                                Error $"%s{n.Label}: index %d{i} out of range"
                        | Batch -> Error $"%s{n.Label}: an index that depends on the batch size"

                    let picked = idx.Elements |> List.map pick

                    match
                        picked
                        |> List.tryPick (function
                            | Error e -> Some e
                            | Ok _ -> None)
                    with
                    | Some e -> Error e
                    | None ->
                        Ok
                            { Elements =
                                picked
                                |> List.map (function
                                    | Ok d -> d
                                    | Error _ -> Batch)
                              Scalar = idx.Scalar }
                | Error e, _
                | _, Error e -> Error e
                | _ -> Error $"%s{n.Label}: only axis 0 is supported in shape arithmetic"
            | "Unsqueeze" ->
                input 0
                |> Result.bind (fun v ->
                    if v.Scalar then
                        Ok { v with Scalar = false }
                    else
                        Error $"%s{n.Label}: unsqueeze of a vector gives a matrix, not a shape")
            | "Squeeze" ->
                input 0
                |> Result.bind (fun v ->
                    if v.Elements.Length = 1 then
                        Ok { v with Scalar = true }
                    else
                        Error $"%s{n.Label}: squeeze of %d{v.Elements.Length} values")
            | "Concat" ->
                let parts = n.Inputs |> List.map eval

                match
                    parts
                    |> List.tryPick (function
                        | Error e -> Some e
                        | Ok _ -> None)
                with
                | Some e -> Error e
                | None ->
                    Ok
                        { Elements =
                            parts
                            |> List.collect (function
                                | Ok v -> v.Elements
                                | Error _ -> [])
                          Scalar = false }
            | op -> Error $"%s{n.Label}: %s{op} is not part of the shape arithmetic this importer evaluates"

/// Whether Reshape's evaluated target turns `input` (per sample) into a flat vector per sample:
/// [batch or 0 (copy), -1 or C*H*W], or [-1, C*H*W]. `fixedBatch` is the input's batch size when
/// the graph fixes it (a constant target then names it).
let isFlatten (input: Shape) (fixedBatch: int64 option) (target: Value) =
    let features =
        match input with
        | Image(c, h, w) -> int64 c * int64 h * int64 w
        | Vector n -> int64 n

    let isBatch d =
        match d, fixedBatch with
        | Batch, _
        | Known 0L, _ -> true
        | Known b, Some fb -> b = fb
        | Known _, None -> false

    match target.Elements with
    | [ first; Known f ] when isBatch first -> f = -1L || f = features
    | [ Known -1L; Known f ] -> f = features
    | _ -> false
