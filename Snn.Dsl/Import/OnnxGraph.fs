/// Reading an ONNX model (the protobuf types of OnnxSharp) into plain F# values: its nodes with
/// their attributes, its constant tensors (initializers and Constant nodes) decoded to float32 /
/// int64 arrays, and its input and output. No TorchSharp tensor is created here.
namespace Snn.Dsl.Import

open System
open System.Buffers.Binary
open Onnx

/// A constant tensor of the model, decoded: float types (float32, float16, bfloat16, float64) to
/// float32, integer types (int64, int32, int8, uint8, int16, uint16, bool) to int64.
type Constant =
    { Name: string
      Dims: int64[]
      Floats: float32[]
      Ints: int64[] }

    member this.IsFloat = this.Floats.Length > 0 || this.Ints.Length = 0
    member this.Count = this.Dims |> Array.fold (fun a d -> a * d) 1L

/// One node of the graph. `Index` is its position in the file; `Label` names it in messages.
type Node =
    { Index: int
      Name: string
      OpType: string
      Inputs: string list
      Outputs: string list
      Attributes: Map<string, AttributeProto> }

    /// "node 'Conv_3' (Conv)", or "node #3 (Conv)" when the node has no name.
    member this.Label =
        if String.IsNullOrEmpty this.Name then
            $"node #%d{this.Index} (%s{this.OpType})"
        else
            $"node '%s{this.Name}' (%s{this.OpType})"

/// A graph input or output: its name, and its dims (None = symbolic, e.g. a batch axis "N").
type Port =
    { Name: string
      Dims: int64 option list
      ElementType: int }

/// The parts of a model the importer reads.
type OnnxGraph =
    { Nodes: Node list
      Constants: Map<string, Constant>
      Inputs: Port list
      Outputs: Port list
      OpsetVersion: int64
      Producer: string }

module OnnxGraph =

    let private dataTypeName (t: int) =
        match enum<TensorProto.Types.DataType> t with
        | TensorProto.Types.DataType.Undefined -> "undefined"
        | d -> d.ToString().ToLowerInvariant()

    /// IEEE half precision to single.
    let private half (bits: uint16) =
        float32 (BitConverter.UInt16BitsToHalf bits)

    let private bfloat (bits: uint16) =
        BitConverter.Int32BitsToSingle(int bits <<< 16)

    /// Decodes a tensor's data from raw_data or the typed fields; Error names what is wrong.
    let decodeTensor (t: TensorProto) : Result<Constant, string> =
        let dims = t.Dims |> Seq.toArray
        let count = dims |> Array.fold (fun a d -> a * d) 1L
        let raw = t.RawData.Span.ToArray()
        let hasRaw = raw.Length > 0
        let name = t.Name

        let fromRaw size (read: int -> 'a) =
            if int64 raw.Length <> count * int64 size then
                Error
                    $"tensor '%s{name}': raw_data has %d{raw.Length} bytes, expected %d{count * int64 size} for dims %A{dims} of %s{dataTypeName t.DataType}"
            else
                Ok(Array.init (int count) read)

        let checkCount (n: int) =
            if int64 n <> count then
                Error $"tensor '%s{name}': %d{n} values stored, expected %d{count} for dims %A{dims}"
            else
                Ok()

        let floats (xs: float32[]) =
            { Name = name
              Dims = dims
              Floats = xs
              Ints = [||] }

        let ints (xs: int64[]) =
            { Name = name
              Dims = dims
              Floats = [||]
              Ints = xs }

        let i32Data () = t.Int32Data |> Seq.toArray

        let withCount n (xs: 'a[]) =
            checkCount n |> Result.map (fun () -> xs)

        match enum<TensorProto.Types.DataType> t.DataType with
        | _ when t.DataLocation = TensorProto.Types.DataLocation.External ->
            Error
                $"tensor '%s{name}' is stored in an external data file: save the model with its weights inside (onnx.save(model, path, save_as_external_data=False)) or load it with onnx.load first"
        | TensorProto.Types.DataType.Float ->
            if hasRaw then
                fromRaw 4 (fun k -> BinaryPrimitives.ReadSingleLittleEndian(ReadOnlySpan(raw, 4 * k, 4)))
                |> Result.map floats
            else
                let xs = t.FloatData |> Seq.toArray
                withCount xs.Length xs |> Result.map floats
        | TensorProto.Types.DataType.Double ->
            if hasRaw then
                fromRaw 8 (fun k -> float32 (BinaryPrimitives.ReadDoubleLittleEndian(ReadOnlySpan(raw, 8 * k, 8))))
                |> Result.map floats
            else
                let xs = t.DoubleData |> Seq.map float32 |> Seq.toArray
                withCount xs.Length xs |> Result.map floats
        | TensorProto.Types.DataType.Float16 ->
            if hasRaw then
                fromRaw 2 (fun k -> half (BinaryPrimitives.ReadUInt16LittleEndian(ReadOnlySpan(raw, 2 * k, 2))))
                |> Result.map floats
            else
                let xs = i32Data () |> Array.map (fun v -> half (uint16 v))
                withCount xs.Length xs |> Result.map floats
        | TensorProto.Types.DataType.Bfloat16 ->
            if hasRaw then
                fromRaw 2 (fun k -> bfloat (BinaryPrimitives.ReadUInt16LittleEndian(ReadOnlySpan(raw, 2 * k, 2))))
                |> Result.map floats
            else
                let xs = i32Data () |> Array.map (fun v -> bfloat (uint16 v))
                withCount xs.Length xs |> Result.map floats
        | TensorProto.Types.DataType.Int64 ->
            if hasRaw then
                fromRaw 8 (fun k -> BinaryPrimitives.ReadInt64LittleEndian(ReadOnlySpan(raw, 8 * k, 8)))
                |> Result.map ints
            else
                let xs = t.Int64Data |> Seq.toArray
                withCount xs.Length xs |> Result.map ints
        | TensorProto.Types.DataType.Int32 ->
            if hasRaw then
                fromRaw 4 (fun k -> int64 (BinaryPrimitives.ReadInt32LittleEndian(ReadOnlySpan(raw, 4 * k, 4))))
                |> Result.map ints
            else
                let xs = i32Data () |> Array.map int64
                withCount xs.Length xs |> Result.map ints
        | TensorProto.Types.DataType.Int8
        | TensorProto.Types.DataType.Uint8
        | TensorProto.Types.DataType.Bool
        | TensorProto.Types.DataType.Int16
        | TensorProto.Types.DataType.Uint16 when not hasRaw ->
            let xs = i32Data () |> Array.map int64
            withCount xs.Length xs |> Result.map ints
        | TensorProto.Types.DataType.Int8 -> fromRaw 1 (fun k -> int64 (sbyte raw[k])) |> Result.map ints
        | TensorProto.Types.DataType.Uint8
        | TensorProto.Types.DataType.Bool -> fromRaw 1 (fun k -> int64 raw[k]) |> Result.map ints
        | TensorProto.Types.DataType.Int16 ->
            fromRaw 2 (fun k -> int64 (BinaryPrimitives.ReadInt16LittleEndian(ReadOnlySpan(raw, 2 * k, 2))))
            |> Result.map ints
        | TensorProto.Types.DataType.Uint16 ->
            fromRaw 2 (fun k -> int64 (BinaryPrimitives.ReadUInt16LittleEndian(ReadOnlySpan(raw, 2 * k, 2))))
            |> Result.map ints
        | _ ->
            Error
                $"tensor '%s{name}' has data type %s{dataTypeName t.DataType}: expected float32, float16, bfloat16, float64 or an integer type"

    let private port (v: ValueInfoProto) =
        let tensorType = if isNull v.Type then null else v.Type.TensorType

        let dims =
            if isNull tensorType || isNull tensorType.Shape then
                []
            else
                tensorType.Shape.Dim
                |> Seq.map (fun d ->
                    if d.HasDimValue && d.DimValue > 0L then
                        Some d.DimValue
                    else
                        None)
                |> List.ofSeq

        { Name = v.Name
          Dims = dims
          ElementType = if isNull tensorType then 0 else tensorType.ElemType }

    /// A Constant node's value (attribute value, value_float(s) or value_int(s)).
    let private constantOf (n: NodeProto) : Result<Constant, string> =
        let attr = n.Attribute |> Seq.tryHead
        let name = if n.Output.Count > 0 then n.Output[0] else n.Name

        let scalarOr (dims: int64[]) =
            { Name = name
              Dims = dims
              Floats = [||]
              Ints = [||] }

        match attr with
        | Some a when a.Name = "value" && not (isNull a.T) ->
            decodeTensor a.T |> Result.map (fun c -> { c with Name = name })
        | Some a when a.Name = "value_float" ->
            Ok
                { scalarOr [||] with
                    Floats = [| a.F |] }
        | Some a when a.Name = "value_floats" ->
            Ok
                { scalarOr [| int64 a.Floats.Count |] with
                    Floats = Seq.toArray a.Floats }
        | Some a when a.Name = "value_int" -> Ok { scalarOr [||] with Ints = [| a.I |] }
        | Some a when a.Name = "value_ints" ->
            Ok
                { scalarOr [| int64 a.Ints.Count |] with
                    Ints = Seq.toArray a.Ints }
        | Some a ->
            Error
                $"Constant '%s{n.Name}': attribute %s{a.Name} is not supported: expected value, value_float(s) or value_int(s)"
        | None -> Error $"Constant '%s{n.Name}' has no value attribute"

    /// Reads a parsed model; Error lists every tensor that cannot be decoded.
    let ofModel (model: ModelProto) : Result<OnnxGraph, string list> =
        let g = model.Graph

        if isNull g || g.Node.Count = 0 then
            Error [ "the model has no graph nodes: expected an ONNX model (ModelProto with a graph)" ]
        else
            let nodes =
                g.Node
                |> Seq.mapi (fun k n ->
                    { Index = k
                      Name = n.Name
                      OpType = n.OpType
                      Inputs = List.ofSeq n.Input
                      Outputs = List.ofSeq n.Output
                      Attributes = n.Attribute |> Seq.map (fun a -> a.Name, a) |> Map.ofSeq })
                |> List.ofSeq

            let decoded =
                [ for t in g.Initializer -> t.Name, decodeTensor t
                  for n in g.Node do
                      if n.OpType = "Constant" && n.Output.Count > 0 then
                          yield n.Output[0], constantOf n ]

            let errors =
                decoded
                |> List.choose (fun (_, r) ->
                    match r with
                    | Error e -> Some e
                    | Ok _ -> None)

            if not errors.IsEmpty then
                Error errors
            else
                let constants =
                    decoded
                    |> List.choose (fun (k, r) ->
                        match r with
                        | Ok c -> Some(k, c)
                        | Error _ -> None)
                    |> Map.ofList

                let opset =
                    model.OpsetImport
                    |> Seq.tryFind (fun o -> o.Domain = "" || o.Domain = "ai.onnx")
                    |> Option.map _.Version
                    |> Option.defaultValue 0L

                Ok
                    { Nodes = nodes
                      Constants = constants
                      // Older exporters list initializers among the inputs too.
                      Inputs =
                        g.Input
                        |> Seq.filter (fun i -> not (constants.ContainsKey i.Name))
                        |> Seq.map port
                        |> List.ofSeq
                      Outputs = g.Output |> Seq.map port |> List.ofSeq
                      OpsetVersion = opset
                      Producer = $"%s{model.ProducerName} %s{model.ProducerVersion}".Trim() }

    /// Parses ONNX bytes; Error says why they are not a readable ONNX model.
    let parse (bytes: byte[]) : Result<OnnxGraph, string list> =
        let parsed =
            try
                Ok(ModelProto.Parser.ParseFrom bytes)
            with e ->
                Error
                    [ $"not a readable ONNX model (the protobuf does not parse: %s{e.Message}); the file may be truncated or not an ONNX file" ]

        parsed |> Result.bind ofModel

    // ---- attributes with ONNX's defaults -------------------------------------------------------

    let attrInts (node: Node) name (fallback: int64 list) =
        match node.Attributes.TryFind name with
        | Some a -> List.ofSeq a.Ints
        | None -> fallback

    let attrInt (node: Node) name (fallback: int64) =
        match node.Attributes.TryFind name with
        | Some a -> a.I
        | None -> fallback

    let attrFloat (node: Node) name (fallback: float32) =
        match node.Attributes.TryFind name with
        | Some a -> a.F
        | None -> fallback

    let attrString (node: Node) name (fallback: string) =
        match node.Attributes.TryFind name with
        | Some a -> a.S.ToStringUtf8()
        | None -> fallback
