// Messages of the `images` proto package alone: importing this instead of the index lets a bundler keep
// only the messages a caller uses (the CLI's start time depends on it).
export * from './gen/images/images';
