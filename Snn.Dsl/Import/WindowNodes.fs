/// The window ops: Conv (strides, pads, auto_pad, dilations, group), AveragePool / MaxPool and
/// the zero Pad exporters put before them.
module internal Snn.Dsl.Import.WindowNodes

open System
open Snn.Dsl
open Snn.Dsl.Import.NodeContext

let conv (ctx: Context) (node: Node) (input: Shape) pendingPad =
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
            Error
                [ $"the weight has dims %A{dims}: expected 4 (out-channels, in-channels / group, kernel height, kernel width)" ]
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

                Ok(
                    Layers
                        [ { Layer = layer
                            Params = ps
                            ClipMax = None
                            Nodes = [ node ] } ]
                )
            | ps, pad -> Error(ps @ collect [ pad ])
    | _ ->
        Error(
            collect [ channels |> Result.map ignore ]
            @ collect [ w |> Result.map ignore; b |> Result.map ignore ]
            @ collect [ stride; dilation ]
        )

let pool (ctx: Context) (node: Node) (input: Shape) pendingPad =
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
        | Ok p when
            p > 0
            && node.OpType = "AveragePool"
            && OnnxGraph.attrInt node "count_include_pad" 0L = 0L
            ->
            Error
                [ $"padding %d{p} with count_include_pad = 0 is not supported: the DSL's average pooling counts the zero padding (PyTorch's count_include_pad=True)" ]
        | Ok p ->
            let layer =
                AvgPool
                    { Kernel = k
                      Stride = s
                      Padding = p + pendingPad }

            Ok(
                Layers
                    [ { Layer = layer
                        Params = []
                        ClipMax = None
                        Nodes = [ node ] } ]
            )
        | Error e -> Error [ e ]
    | _, k, s -> Error(unsupported @ collect [ k; s ])

let pad (ctx: Context) (node: Node) =
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
                Ok(
                    if c.Floats.Length = 1 then
                        c.Floats[0]
                    else
                        float32 (Array.sum c.Ints)
                )
            | _ -> Error "the constant_value input is not a constant scalar"
        | _ -> Ok(OnnxGraph.attrFloat node "value" 0.0f)

    match pads, value, OnnxGraph.attrString node "mode" "constant" with
    | Ok [ 0L; 0L; t; l; 0L; 0L; b; r ], Ok 0.0f, "constant" when t = l && l = b && b = r -> Ok(PadBy(int t))
    | Ok ps, Ok 0.0f, "constant" ->
        Error [ $"pads %A{ps} are not the same zero padding on all four spatial sides of an NxCxHxW tensor" ]
    | Ok _, Ok v, "constant" -> Error [ $"constant_value = %g{v}: only zero padding is supported" ]
    | Ok _, Ok _, mode -> Error [ $"mode = %s{mode}: only constant (zero) padding is supported" ]
    | p, v, _ -> Error(collect [ p |> Result.map ignore; v |> Result.map ignore ])
