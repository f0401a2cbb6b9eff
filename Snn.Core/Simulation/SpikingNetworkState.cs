using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// The learned state of a spiking network, written and read back in place: per layer, in order,
/// every synapse's weight W and bias b, the threshold theta and v(0). Phase II changes W, b and
/// v(0); the structure (layers, inputs, shapes) is not stored, so a state is loaded into a network
/// built the same way (for example by converting the same ANN). Every tensor is stored in its own
/// dtype (dtype code, rank, shape, value count, then the raw values), so a load restores it bit for
/// bit. Format SNNSTATE2; the first format (SNNSTATE1, everything as float32) is not read.
/// </summary>
public static class SpikingNetworkState
{
    private const string Magic = "SNNSTATE2";

    /// <summary>The largest tensor rank a state holds (weights are at most 4-D; a larger value means damage).</summary>
    private const int MaxRank = 8;

    /// <summary>Writes the state of <paramref name="network"/> to <paramref name="writer"/>.</summary>
    /// <param name="network">The network whose tensors are written (not changed).</param>
    /// <param name="writer">Destination.</param>
    public static void Save(SpikingNetwork network, BinaryWriter writer)
    {
        writer.Write(Magic);
        writer.Write(network.Layers.Count);
        foreach (var layer in network.Layers)
        {
            writer.Write(layer.Name);
            foreach (var input in layer.Inputs)
            {
                if (input.Synapse is { } s)
                {
                    WriteTensor(writer, s.Weight);
                    WriteOptional(writer, s.Bias);
                }
            }

            WriteOptional(writer, layer.Threshold);
            WriteOptional(writer, layer.InitialPotential);
        }
    }

    /// <summary>
    /// Reads a state written by <see cref="Save"/> into <paramref name="network"/> in place. Everything is
    /// read and checked first, then copied, so a state that does not match or ends early leaves the network
    /// unchanged.
    /// </summary>
    /// <param name="network">A network with the same layers, inputs and shapes as the saved one.</param>
    /// <param name="reader">Source.</param>
    /// <param name="source">Names the source in error messages (e.g. a file path).</param>
    /// <exception cref="InvalidDataException">
    /// The data is not a network state, it ends early, or it does not match the network (the message names the
    /// source, the layer and what differs).
    /// </exception>
    public static void Load(SpikingNetwork network, BinaryReader reader, string source)
    {
        using var scope = NewDisposeScope();
        var pending = new List<(Tensor Target, Tensor Values)>();
        try
        {
            var magic = reader.ReadString();
            if (magic != Magic)
            {
                throw new InvalidDataException($"{source}: not a spiking-network state: expected the header {Magic}, found \"{magic}\"");
            }

            var count = reader.ReadInt32();
            if (count != network.Layers.Count)
            {
                throw new InvalidDataException($"{source}: holds {count} layers, the network has {network.Layers.Count}: expected a state of this network");
            }

            foreach (var layer in network.Layers)
            {
                var name = reader.ReadString();
                if (name != layer.Name)
                {
                    throw new InvalidDataException($"{source}: layer '{name}' where the network has '{layer.Name}': expected a state of this network");
                }

                for (var i = 0; i < layer.Inputs.Count; i++)
                {
                    if (layer.Inputs[i].Synapse is { } s)
                    {
                        pending.Add((s.Weight, Read(reader, s.Weight, source, $"{name} input {i} weight")));
                        ReadOptional(reader, s.Bias, source, $"{name} input {i} bias", pending);
                    }
                }

                ReadOptional(reader, layer.Threshold, source, $"{name} threshold", pending);
                ReadOptional(reader, layer.InitialPotential, source, $"{name} v(0)", pending);
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{source}: the spiking-network state ends early: expected more bytes, found the end (truncated)", e);
        }
        catch (Exception e) when (e is FormatException or IOException)
        {
            throw new InvalidDataException($"{source}: the spiking-network state is damaged: expected a length-prefixed name, found {e.Message}", e);
        }

        using var noGrad = no_grad();
        foreach (var (target, values) in pending)
        {
            target.copy_(values);
        }
    }

    private static void WriteOptional(BinaryWriter writer, Tensor? t)
    {
        writer.Write(t is not null);
        if (t is not null)
        {
            WriteTensor(writer, t);
        }
    }

    private static void WriteTensor(BinaryWriter writer, Tensor t)
    {
        using var cpu = t.detach().cpu().contiguous();
        writer.Write((int)cpu.dtype);
        writer.Write(cpu.shape.Length);
        foreach (var d in cpu.shape)
        {
            writer.Write(d);
        }

        writer.Write(checked((int)cpu.numel()));
        writer.Write(cpu.bytes);
    }

    private static void ReadOptional(BinaryReader reader, Tensor? target, string source, string what, List<(Tensor, Tensor)> pending)
    {
        var present = reader.ReadBoolean();
        if (present != (target is not null))
        {
            throw new InvalidDataException(
                $"{source}: {what} is {(present ? "stored but the network has none" : "missing but the network has one")}: expected a state of this network");
        }

        if (target is not null)
        {
            pending.Add((target, Read(reader, target, source, what)));
        }
    }

    /// <summary>Reads one stored tensor, checked against the shape of <paramref name="target"/>; the values, not yet copied.</summary>
    private static Tensor Read(BinaryReader reader, Tensor target, string source, string what)
    {
        var dtype = (ScalarType)reader.ReadInt32();
        if (dtype != target.dtype)
        {
            throw new InvalidDataException($"{source}: {what} is stored as {dtype}, the network's is {target.dtype}: expected a state of this network");
        }

        var rank = reader.ReadInt32();
        if (rank < 0 || rank > MaxRank)
        {
            throw new InvalidDataException($"{source}: {what}: expected a tensor rank in [0, {MaxRank}], found {rank} (damaged data)");
        }

        var shape = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            shape[i] = reader.ReadInt64();
        }

        if (!shape.SequenceEqual(target.shape))
        {
            throw new InvalidDataException(
                $"{source}: {what} has shape [{string.Join(", ", shape)}], the network's is [{string.Join(", ", target.shape)}]: expected a state of this network");
        }

        var n = reader.ReadInt32();
        if (n != target.numel())
        {
            throw new InvalidDataException($"{source}: {what}: expected {target.numel()} values for shape [{string.Join(", ", shape)}], found a count of {n} (damaged data)");
        }

        var values = empty(shape, dtype);
        var size = checked((int)(n * values.element_size()));
        var bytes = reader.ReadBytes(size);
        if (bytes.Length != size)
        {
            throw new EndOfStreamException();
        }

        values.bytes = bytes;
        return values;
    }
}
