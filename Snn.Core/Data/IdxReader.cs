namespace Snn.Core.Data;

/// <summary>
/// The <see cref="IDatasetReader"/> of IDX folders (Fashion-MNIST, MNIST): the four files of <see cref="Idx.FileNames"/>,
/// each raw or gzipped; class names from the descriptor.
/// </summary>
public sealed class IdxReader : IDatasetReader
{
    /// <inheritdoc/>
    public bool Holds(string folder) => Idx.FileNames.All(f => DataFiles.Find(folder, f) is not null);

    /// <inheritdoc/>
    public DatasetLayout Inspect(DatasetDescriptor dataset, string folder)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var train = Idx.Inspect(folder, train: true);
        var test = Idx.Inspect(folder, train: false);
        if ((train.Height, train.Width) != (test.Height, test.Width))
        {
            throw new DataFileException(
                DataFiles.Require(folder, "t10k-images-idx3-ubyte"),
                $"holds images of {test.Height}x{test.Width}: expected {train.Height}x{train.Width} like the training images");
        }

        return new DatasetLayout(folder, train.Count, test.Count, 1, train.Height, train.Width, ClassNames(dataset));
    }

    /// <inheritdoc/>
    public ImageDataset Read(DatasetDescriptor dataset, string folder, bool train)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Idx.Read(folder, train, ClassNames(dataset), dataset.Name + (train ? "/train" : "/test"));
    }

    /// <inheritdoc/>
    public DatasetIdentity Identify(DatasetDescriptor dataset, string folder)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return DatasetIdentity.OfFiles(dataset.Key, folder, Idx.FileNames.Select(f => DataFiles.Require(folder, f)));
    }

    private static IReadOnlyList<string> ClassNames(DatasetDescriptor dataset) =>
        dataset.ClassNames ?? throw new ArgumentException($"{nameof(dataset)} {dataset.Name} has no class names: an IDX dataset needs them", nameof(dataset));
}
