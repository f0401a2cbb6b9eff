/// ONNX models built in code (OnnxSharp's protobuf types) and the comparison of an imported
/// network with ONNX Runtime running the same bytes.
module Snn.Dsl.Tests.Import.OnnxModels

open System
open Google.Protobuf
open Onnx
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Import

/// An attribute value.
type Attr =
    | I of int64
    | Is of int64 list
    | F of float32
    | S of string
    | T of TensorProto

/// Builds a graph node by node; random weights are drawn from `seed`.
type OnnxBuilder(inputDims: int64 option list, seed: int, ?opset: int64) =
    let nodes = ResizeArray<NodeProto>()
    let inits = ResizeArray<TensorProto>()
    let random = Random(seed)
    let mutable counter = 0

    member _.Fresh(prefix: string) =
        counter <- counter + 1
        $"%s{prefix}_%d{counter}"

    /// A float32 tensor proto (raw_data when `raw`, else float_data).
    static member FloatTensor(name: string, dims: int64 list, data: float32[], ?raw: bool) =
        let t = TensorProto(Name = name, DataType = int TensorProto.Types.DataType.Float)
        t.Dims.AddRange dims

        if defaultArg raw true then
            let bytes = Array.zeroCreate<byte> (4 * data.Length)
            Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length)
            t.RawData <- ByteString.CopyFrom bytes
        else
            t.FloatData.AddRange data

        t

    static member IntTensor(name: string, dims: int64 list, data: int64[]) =
        let t = TensorProto(Name = name, DataType = int TensorProto.Types.DataType.Int64)
        t.Dims.AddRange dims
        t.Int64Data.AddRange data
        t

    /// An initializer with these values; returns its name.
    member this.Init(dims: int64 list, data: float32[], ?raw: bool) =
        let name = this.Fresh "w"
        inits.Add(OnnxBuilder.FloatTensor(name, dims, data, defaultArg raw true))
        name

    /// An initializer of random values in [lo, hi].
    member this.Random(dims: int64 list, ?lo: float, ?hi: float) =
        let lo, hi = defaultArg lo -0.5, defaultArg hi 0.5
        let n = dims |> List.fold (fun a d -> a * int d) 1
        this.Init(dims, Array.init n (fun _ -> float32 (lo + (hi - lo) * random.NextDouble())))

    member this.Ints(dims: int64 list, data: int64[]) =
        let name = this.Fresh "i"
        inits.Add(OnnxBuilder.IntTensor(name, dims, data))
        name

    /// Adds a node; returns its outputs' names (`outputs` of them, 1 by default).
    member this.NodeN(op: string, inputs: string list, attrs: (string * Attr) list, outputs: int, ?name: string) =
        let n = NodeProto(OpType = op, Name = defaultArg name (this.Fresh op))
        n.Input.AddRange inputs
        let outs = List.init outputs (fun _ -> this.Fresh(op + "_out"))
        n.Output.AddRange outs

        for k, v in attrs do
            let a = AttributeProto(Name = k)

            match v with
            | I x ->
                a.Type <- AttributeProto.Types.AttributeType.Int
                a.I <- x
            | Is xs ->
                a.Type <- AttributeProto.Types.AttributeType.Ints
                a.Ints.AddRange xs
            | F x ->
                a.Type <- AttributeProto.Types.AttributeType.Float
                a.F <- x
            | S x ->
                a.Type <- AttributeProto.Types.AttributeType.String
                a.S <- ByteString.CopyFromUtf8 x
            | T x ->
                a.Type <- AttributeProto.Types.AttributeType.Tensor
                a.T <- x

            n.Attribute.Add a

        nodes.Add n
        outs

    member this.Node(op, inputs, ?attrs, ?name) =
        match name with
        | Some nm -> this.NodeN(op, inputs, defaultArg attrs [], 1, nm) |> List.head
        | None -> this.NodeN(op, inputs, defaultArg attrs [], 1) |> List.head

    /// A Constant node holding int64 values; returns its output.
    member this.ConstInts(dims: int64 list, data: int64[]) =
        this.Node("Constant", [], [ "value", T(OnnxBuilder.IntTensor(this.Fresh "c", dims, data)) ])

    member _.InputName = "input"

    /// The model with this output (dims [N, classes] symbolic batch).
    member _.Model(output: string) =
        let g = GraphProto(Name = "test")
        g.Node.AddRange nodes
        g.Initializer.AddRange inits

        let valueInfo (name: string) (dims: int64 option list) =
            let shape = TensorShapeProto()

            for d in dims do
                let dim = TensorShapeProto.Types.Dimension()

                match d with
                | Some v -> dim.DimValue <- v
                | None -> dim.DimParam <- "N"

                shape.Dim.Add dim

            let tt = TypeProto.Types.Tensor(ElemType = 1, Shape = shape)
            ValueInfoProto(Name = name, Type = TypeProto(TensorType = tt))

        g.Input.Add(valueInfo "input" inputDims)
        g.Output.Add(valueInfo output [ None; None ])
        let m = ModelProto(IrVersion = 8L, Graph = g, ProducerName = "tests")
        m.OpsetImport.Add(OperatorSetIdProto(Domain = "", Version = defaultArg opset 14L))
        m

    member this.Bytes(output: string) = this.Model(output).ToByteArray()

/// The imported model or a failed test listing the errors.
let importOk options (bytes: byte[]) =
    match Import.fromBytes options bytes with
    | Ok m -> m
    | Error es -> failwithf "import failed:\n%s" (es |> List.map _.Message |> String.concat "\n")

/// The error messages of an import that must fail.
let importErrors options (bytes: byte[]) =
    match Import.fromBytes options bytes with
    | Ok m -> failwithf "import succeeded but should fail: %A" m.Spec
    | Error es -> es |> List.map _.Message

/// max |imported(x) - ONNX Runtime(x)| over a random batch of `batch` inputs of this shape.
let maxDifference (bytes: byte[]) (model: ImportedModel) (batch: int) (seed: int) =
    let shape =
        match model.Spec.Input with
        | Image(c, h, w) -> [| int64 batch; int64 c; int64 h; int64 w |]
        | Vector n -> [| int64 batch; int64 n |]

    let random = Random(seed)
    let count = shape |> Array.fold (fun a d -> a * int d) 1
    let data = Array.init count (fun _ -> float32 (random.NextDouble() * 2.0 - 1.0))
    use reference = new OnnxReference(bytes)
    let expected, _ = reference.Run(data, shape)
    use network = Import.toNetwork model
    use _ = torch.no_grad ()
    use x = torch.tensor (data, ReadOnlySpan<int64>(shape))
    use y = network.forward x
    let actual = y.contiguous().data<float32>().ToArray()

    if actual.Length <> expected.Length then
        failwithf "imported output has %d values, ONNX Runtime %d" actual.Length expected.Length

    Array.map2 (fun (a: float32) (b: float32) -> abs (float a - float b)) actual expected
    |> Array.max
