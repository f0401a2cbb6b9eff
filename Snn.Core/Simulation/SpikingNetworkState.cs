using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// The learned state of a spiking network, written and read back in place: per layer, in order,
/// every synapse's weight W and bias b, the threshold theta and v(0). Phase II changes W, b and
/// v(0); the structure (layers, inputs, shapes) is not stored, so a state is loaded into a network
/// built the same way (for example by converting the same ANN). Every tensor is float32 and stored
/// as its shape followed by its values.
/// </summary>
public static class SpikingNetworkState
{
    private const string Magic = "SNNSTATE1";

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

    /// <summary>Reads a state written by <see cref="Save"/> into <paramref name="network"/> in place.</summary>
    /// <param name="network">A network with the same layers, inputs and shapes as the saved one.</param>
    /// <param name="reader">Source.</param>
    /// <param name="source">Names the source in error messages (e.g. a file path).</param>
    /// <exception cref="InvalidDataException">The data is not a network state, or it does not match the network.</exception>
    public static void Load(SpikingNetwork network, BinaryReader reader, string source)
    {
        try
        {
            if (reader.ReadString() != Magic)
            {
                throw new InvalidDataException($"{source}: not a spiking-network state (expected the header {Magic})");
            }

            var count = reader.ReadInt32();
            if (count != network.Layers.Count)
            {
                throw new InvalidDataException($"{source}: holds {count} layers, the network has {network.Layers.Count}");
            }

            using var noGrad = no_grad();
            foreach (var layer in network.Layers)
            {
                var name = reader.ReadString();
                if (name != layer.Name)
                {
                    throw new InvalidDataException($"{source}: layer '{name}' where the network has '{layer.Name}'");
                }

                foreach (var input in layer.Inputs)
                {
                    if (input.Synapse is { } s)
                    {
                        ReadInto(reader, s.Weight, source, $"{name} weight");
                        ReadOptionalInto(reader, s.Bias, source, $"{name} bias");
                    }
                }

                ReadOptionalInto(reader, layer.Threshold, source, $"{name} threshold");
                ReadOptionalInto(reader, layer.InitialPotential, source, $"{name} v(0)");
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{source}: the spiking-network state ends early (truncated)", e);
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
        using var cpu = t.detach().to(float32).cpu().contiguous();
        writer.Write(cpu.shape.Length);
        foreach (var d in cpu.shape)
        {
            writer.Write(d);
        }

        var values = cpu.data<float>().ToArray();
        writer.Write(values.Length);
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        writer.Write(bytes);
    }

    private static void ReadOptionalInto(BinaryReader reader, Tensor? target, string source, string what)
    {
        var present = reader.ReadBoolean();
        if (present != (target is not null))
        {
            throw new InvalidDataException($"{source}: {what} is {(present ? "stored but the network has none" : "missing")}");
        }

        if (target is not null)
        {
            ReadInto(reader, target, source, what);
        }
    }

    private static void ReadInto(BinaryReader reader, Tensor target, string source, string what)
    {
        var rank = reader.ReadInt32();
        var shape = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            shape[i] = reader.ReadInt64();
        }

        if (!shape.SequenceEqual(target.shape))
        {
            throw new InvalidDataException($"{source}: {what} has shape [{string.Join(", ", shape)}], the network's is [{string.Join(", ", target.shape)}]");
        }

        var n = reader.ReadInt32();
        var bytes = reader.ReadBytes(n * sizeof(float));
        if (bytes.Length != n * sizeof(float))
        {
            throw new EndOfStreamException();
        }

        var values = new float[n];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        using var loaded = tensor(values, shape);
        target.copy_(loaded);
    }
}
