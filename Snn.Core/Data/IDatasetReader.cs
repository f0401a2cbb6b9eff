namespace Snn.Core.Data;

/// <summary>
/// Reads one dataset format. A <see cref="DatasetDescriptor"/> pairs a reader with everything else known about a
/// dataset (name, normalisation, augmentation, where to find it); adding a dataset is one descriptor plus its reader.
/// </summary>
public interface IDatasetReader
{
    /// <summary>Whether <paramref name="folder"/> holds this format's files (a quick existence check, nothing is read).</summary>
    /// <param name="folder">An existing folder.</param>
    bool Holds(string folder);

    /// <summary>
    /// The dataset's layout from headers, file sizes or a listing only (no image is decoded): image counts,
    /// shape and class names, with every check that can be made without reading the images.
    /// </summary>
    /// <param name="dataset">The descriptor (name, class names, image size).</param>
    /// <param name="folder">The dataset folder, as located by <see cref="DatasetLocator"/>.</param>
    /// <exception cref="DataFileException">A file is missing or malformed; the message names it.</exception>
    DatasetLayout Inspect(DatasetDescriptor dataset, string folder);

    /// <summary>Reads the training or test images into memory (uint8 [N, C, H, W], labels int64 [N]).</summary>
    /// <param name="dataset">The descriptor.</param>
    /// <param name="folder">The dataset folder.</param>
    /// <param name="train">true for the training files, false for the test files.</param>
    /// <exception cref="DataFileException">A file is missing or malformed; the message names it.</exception>
    ImageDataset Read(DatasetDescriptor dataset, string folder, bool train);

    /// <summary>The identity of the dataset's files (see <see cref="DatasetIdentity"/>), without decoding images.</summary>
    /// <param name="dataset">The descriptor.</param>
    /// <param name="folder">The dataset folder.</param>
    DatasetIdentity Identify(DatasetDescriptor dataset, string folder);
}
