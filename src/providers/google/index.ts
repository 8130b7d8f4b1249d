export { gmail } from './gmail';
export { googleDrive } from './google-drive';
